// Package report turns the histories and check results of a run into what people and
// CI read: report.json (WriteJSON; schema_version 2, documented in
// docs/report-schema.md), summary.md (WriteMarkdown), a self-contained index.html with
// gonum/plot timelines as inline SVG (WriteHTML, WriteChart) and JUnit XML
// (WriteJUnit). Every renderer writes to an io.Writer; Render saves all four into a
// directory and Load reads back what the suites saved there. model.go is the data every
// renderer reads; the scenario suites fill it in through a Collector and save it next to
// the histories, so that a report can be rendered again later from the saved files alone.
//
// Checks and figures stand apart everywhere: a scenario's informative results (see
// check.Informative) are shown as figures and never counted among its checks.
//
// It imports check and history; never load, fault, runtime or the harness root.
package report

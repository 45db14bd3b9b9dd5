// Package report turns the histories and check results of a run into what people and
// CI read: report.json (a documented, versioned schema), summary.md, a self-contained
// index.html with charts, and JUnit XML. model.go is the data every renderer reads;
// the scenario suites fill it in through a Collector and save it next to the histories,
// so that a report can be rendered again later from the saved files alone.
//
// It imports check and history; never load, fault, runtime or the harness root.
package report

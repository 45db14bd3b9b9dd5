package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/bench/figure"
)

// Doc is everything BENCHMARKS.md says.
type Doc struct {
	Date    time.Time
	Command string
	Machine Machine
	Figures []figure.Figure
	// Unmeasured lists benchmarks that skipped or failed, with their reason.
	Unmeasured []Missing
	// Recorded is bench/recorded.md, included verbatim; Bounds is bench/bounds.md.
	Recorded, Bounds string
}

// Missing is a benchmark that gave no figure, and why.
type Missing struct {
	Benchmark, Outcome, Reason string
}

// Render writes doc as Markdown: header, one table per group in the order groups first
// appear, the recorded figures, then what bounds what remains, worst ratio first.
func Render(w io.Writer, doc Doc) error {
	p := &printer{w: w}
	p.line("# faultline benchmarks")
	p.line("")
	p.line("Every figure sits next to its baseline, measured in the same run on the same machine; the ratio is measured ÷ baseline (for a rate such as req/s, below 1 means slower). Regenerate with `%s` (it writes this file).", doc.Command)
	p.line("")
	m := doc.Machine
	p.line("| | |")
	p.line("|---|---|")
	p.line("| date | %s |", doc.Date.UTC().Format("2006-01-02 15:04 MST"))
	p.line("| command | `%s` |", doc.Command)
	p.line("| machine | %d cores (%s), %s memory |", m.Cores, cell(m.CPU), cell(m.Memory))
	p.line("| OS | %s |", cell(m.OS))
	p.line("| docker | %s |", cell(m.Docker))
	p.line("| go | %s |", cell(m.Go))
	p.line("")
	if len(doc.Figures) == 0 {
		p.line("No benchmark recorded a figure in this run.")
		p.line("")
	}
	for _, g := range groups(doc.Figures) {
		p.line("## %s", g)
		p.line("")
		p.line("| figure | measured | baseline | the baseline is | ratio | samples | note |")
		p.line("|---|--:|--:|---|--:|--:|---|")
		for _, f := range doc.Figures {
			if f.Group != g {
				continue
			}
			samples := "—"
			if f.Samples > 0 {
				samples = strconv.Itoa(f.Samples)
			}
			p.line("| %s | %s | %s | %s | %s | %s | %s |", cell(f.Name), amount(f.Measured, f.Unit), amount(f.Baseline, f.Unit),
				cell(f.BaselineName), ratio(f), samples, cell(f.Note))
		}
		p.line("")
	}
	if len(doc.Unmeasured) > 0 {
		p.line("## Not measured in this run")
		p.line("")
		for _, u := range doc.Unmeasured {
			if u.Reason != "" {
				p.line("- `%s` %s: %s", u.Benchmark, u.Outcome, u.Reason)
			} else {
				p.line("- `%s` %s", u.Benchmark, u.Outcome)
			}
		}
		p.line("")
	}
	if rec := strings.TrimSpace(doc.Recorded); rec != "" {
		// A file with a heading of its own goes in as it is; one without gets ours.
		if !strings.HasPrefix(rec, "#") {
			p.line("## Recorded by hand")
			p.line("")
			p.line("From `bench/recorded.md`, verbatim: figures of runs too slow for `%s`.", doc.Command)
			p.line("")
		}
		p.raw(strings.TrimRight(doc.Recorded, "\n") + "\n")
		p.line("")
	}
	p.line("## What bounds what remains")
	p.line("")
	if len(doc.Figures) > 0 {
		costly, rest := split(doc.Figures)
		if len(costly) > 0 {
			p.line("The figures more than %d%% worse than their baseline (a time above it, a rate below it), worst first, each with what its benchmark says bounds it:", int(math.Round(100*(costlyOver-1))))
			p.line("")
		}
		for _, f := range costly {
			line := fmt.Sprintf("- **%s — %s**: ×%s its baseline's cost", f.Group, f.Name, num(cost(f)))
			if f.Note != "" {
				line += ". " + strings.TrimSuffix(oneLine(f.Note), ".") + "."
			}
			p.line("%s", line)
		}
		if len(costly) > 0 {
			p.line("")
		}
		if rest > 0 {
			p.line("The other %d figures are within %d%% of their baseline, or better.", rest, int(math.Round(100*(costlyOver-1))))
			p.line("")
		}
	}
	if strings.TrimSpace(doc.Bounds) != "" {
		p.raw(strings.TrimRight(doc.Bounds, "\n") + "\n")
	}
	return p.err
}

// printer writes lines and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) raw(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s)
	}
}

// groups lists the figures' groups in the order they first appear.
func groups(figs []figure.Figure) []string {
	var out []string
	for _, f := range figs {
		if !slices.Contains(out, f.Group) {
			out = append(out, f.Group)
		}
	}
	return out
}

// higherIsBetter tells a rate ("req/s", "MB/s", "ops/s") from a cost (time, bytes).
func higherIsBetter(unit string) bool { return strings.HasSuffix(unit, "/s") }

// cost is how many times worse the measured figure is than its baseline: the ratio for
// a time, its inverse for a rate. Zero when it cannot be told.
func cost(f figure.Figure) float64 {
	if f.Measured == 0 || f.Baseline == 0 {
		return 0
	}
	if higherIsBetter(f.Unit) {
		return f.Baseline / f.Measured
	}
	return f.Measured / f.Baseline
}

// costlyOver is the cost above which a figure is listed under what bounds what remains.
const costlyOver = 1.1

// split returns the figures that cost more than costlyOver times their baseline, worst
// first, and how many others there are.
func split(figs []figure.Figure) (costly []figure.Figure, rest int) {
	for _, f := range worstFirst(figs) {
		if cost(f) > costlyOver {
			costly = append(costly, f)
		} else {
			rest++
		}
	}
	return costly, rest
}

// worstFirst orders figures by cost, highest first; ties keep their order.
func worstFirst(figs []figure.Figure) []figure.Figure {
	out := slices.Clone(figs)
	slices.SortStableFunc(out, func(a, b figure.Figure) int {
		switch ca, cb := cost(a), cost(b); {
		case ca > cb:
			return -1
		case ca < cb:
			return 1
		}
		return 0
	})
	return out
}

func ratio(f figure.Figure) string {
	if f.Baseline == 0 {
		return "—"
	}
	return "×" + num(f.Ratio())
}

// amount is a value with its unit, to three significant digits.
func amount(v float64, unit string) string { return num(v) + " " + unit }

// num formats v to three significant digits without an exponent for everyday sizes.
func num(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	digits := 3 - int(math.Floor(math.Log10(math.Abs(v)))) - 1
	if digits < 0 {
		digits = 0
	}
	if digits > 6 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var resultRE = regexp.MustCompile(`^\s*--- (SKIP|FAIL): (\S+)`)

// Unmeasured reads go test output for benchmarks that skipped or failed, with what
// each said last: the message printed right after its "--- SKIP"/"--- FAIL" line, or,
// as go test -v prints a benchmark's log as it goes, the last one printed before it.
func Unmeasured(r io.Reader) []Missing {
	var out []Missing
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	pending := -1
	last := ""
	for sc.Scan() {
		line := sc.Text()
		if m := resultRE.FindStringSubmatch(line); m != nil {
			outcome := "skipped"
			if m[1] == "FAIL" {
				outcome = "failed"
			}
			out = append(out, Missing{Benchmark: m[2], Outcome: outcome, Reason: last})
			pending, last = len(out)-1, ""
			continue
		}
		msg, isMsg := logMessage(line)
		switch {
		case isMsg && pending >= 0:
			out[pending].Reason = msg
			pending = -1
		case isMsg:
			last = msg
		case strings.TrimSpace(line) != "":
			pending = -1
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "---") || strings.HasPrefix(line, "===") {
				last = ""
			}
		}
	}
	return out
}

var logRE = regexp.MustCompile(`^\s+\S+_test\.go:\d+: (.*)$`)

// logMessage is the message of a test log line ("    x_test.go:12: message").
func logMessage(line string) (string, bool) {
	m := logRE.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return strings.TrimSpace(m[1]), true
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// progress reads `go test -v -ginkgo.v -ginkgo.no-color` output and writes what a person
// watching a run wants: a line when a scenario starts and one when it ends with its
// verdict and time, the seed, the replay command of a failed scenario, Ginkgo's totals,
// and anything printed before the suite started (a build error, say).
type progress struct {
	w io.Writer
	// plain reads plain `go test -v` output instead (a module's own tests, no Ginkgo):
	// each top-level test is an experiment's line.
	plain    bool
	afterSep bool   // the previous line was Ginkgo's separator
	header   string // a line after the separator: a spec's name if a file:line follows
	current  string // the scenario running now
	pending  string // a verdict waiting for the name on the next line
	took     string
	started  bool // Ginkgo's suite output has begun
	Passed   int
	Failed   int
	Skipped  int
}

var (
	ginkgoSep    = regexp.MustCompile(`^-{20,}$`)
	ginkgoStatus = regexp.MustCompile(`^(?:[•SPF+]\s*)?(?:\[([A-Z]+)\]\s*)?\[([0-9.]+) seconds\]$`)
	ginkgoWhere  = regexp.MustCompile(`\.go:\d+$`)
	ginkgoDots   = regexp.MustCompile(`^[•SP]+$`) // specs not run, one letter each
	ginkgoLabels = regexp.MustCompile(`\s+\[[^\]]*\]$`)
	ginkgoNode   = regexp.MustCompile(`\[(It|BeforeAll|AfterAll|BeforeEach|AfterEach|JustBeforeEach)\]\s*`)
	passThrough  = regexp.MustCompile(`^(Random Seed:|Will run |Ran \d+ of |SUCCESS!|FAIL!|\s*faultline seed |\s*replay this scenario exactly:|\s*saving \d+ scenario outcomes|panic:|\s*\[(FAIL|PANICKED|TIMEDOUT|INTERRUPTED)\] )`)
)

// scenarioName turns Ginkgo's "on local [It] failover: … [local, failover]" into
// "local · failover: …".
func scenarioName(line string) string {
	line = ginkgoNode.ReplaceAllString(strings.TrimSpace(line), "")
	line = ginkgoLabels.ReplaceAllString(line, "")
	if rest, ok := strings.CutPrefix(line, "on "); ok {
		if backend, hyp, ok := strings.Cut(rest, " "); ok {
			return backend + " · " + hyp
		}
	}
	return line
}

var (
	goTestRun  = regexp.MustCompile(`^=== RUN\s+(\S+)$`)
	goTestDone = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)$`)
	goTestPass = regexp.MustCompile(`^(ok|FAIL|---|\?)\s|^(PASS|FAIL)$|^faultline: |^panic:|^\s+\S+_test\.go:\d+: `)
)

// plainLine handles one line of plain `go test -v` output: top-level tests start and
// end, and package verdicts, test failures' messages and faultline's own lines pass.
func (p *progress) plainLine(line string) {
	if m := goTestRun.FindStringSubmatch(line); m != nil {
		if !strings.Contains(m[1], "/") {
			fmt.Fprintf(p.w, "▶ %s\n", m[1])
		}
		return
	}
	if m := goTestDone.FindStringSubmatch(line); m != nil {
		if !strings.Contains(m[2], "/") {
			p.took = m[3]
			p.finish(map[string]string{"PASS": "PASSED", "FAIL": "FAILED", "SKIP": "SKIPPED"}[m[1]], m[2])
		}
		return
	}
	if goTestPass.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "--- PASS") {
		fmt.Fprintln(p.w, line)
	}
}

// Line handles one line of output.
func (p *progress) Line(line string) {
	if p.plain {
		p.plainLine(line)
		return
	}
	trimmed := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(trimmed, "Running Suite:"):
		p.started = true
		fmt.Fprintln(p.w, trimmed)
		return
	case !p.started:
		if trimmed != "" && !strings.HasPrefix(trimmed, "=== RUN") {
			fmt.Fprintln(p.w, line)
		}
		return
	case ginkgoSep.MatchString(trimmed):
		p.afterSep = true
		return
	}
	afterSep := p.afterSep
	p.afterSep = false
	if header := p.header; header != "" {
		p.header = ""
		if ginkgoWhere.MatchString(trimmed) {
			p.current = scenarioName(header)
			fmt.Fprintf(p.w, "▶ %s\n", p.current)
			return
		}
	}
	if p.pending != "" {
		if trimmed == "" {
			return
		}
		p.finish(p.pending, scenarioName(trimmed))
		p.pending = ""
		return
	}
	if m := ginkgoStatus.FindStringSubmatch(trimmed); m != nil {
		verdict := m[1]
		if verdict == "" {
			verdict = "PASSED"
		}
		p.took = m[2]
		if verdict == "PASSED" && p.current != "" {
			p.finish(verdict, p.current)
		} else if verdict != "PASSED" {
			p.pending = verdict
		}
		p.current = ""
		return
	}
	if afterSep && trimmed != "" && !strings.HasPrefix(trimmed, "[") && !ginkgoDots.MatchString(trimmed) {
		p.header = trimmed
		return
	}
	if passThrough.MatchString(line) {
		fmt.Fprintln(p.w, trimmed)
	}
}

func (p *progress) finish(verdict, name string) {
	mark := "✘ " + strings.ToLower(verdict)
	switch verdict {
	case "PASSED":
		mark = "✔ passed"
		p.Passed++
	case "SKIPPED", "PENDING":
		mark = "– skipped"
		p.Skipped++
	default:
		p.Failed++
	}
	fmt.Fprintf(p.w, "  %s  %s (%ss)\n", mark, name, p.took)
}

// Copy feeds every line of r to the printer and to log, until r ends.
func (p *progress) Copy(r io.Reader, log io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if log != nil {
			fmt.Fprintln(log, sc.Text())
		}
		p.Line(sc.Text())
	}
	return sc.Err()
}

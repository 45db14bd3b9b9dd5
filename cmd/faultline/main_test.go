package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// capture runs the CLI with args and returns its exit status, stdout and stderr.
func capture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdout, os.Stderr = wo, we
	outc, errc := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(ro); outc <- string(b) }()
	go func() { b, _ := io.ReadAll(re); errc <- string(b) }()
	code := run(args)
	wo.Close()
	we.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, <-outc, <-errc
}

func TestEveryCommandHasHelp(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"run":    {"-runtime", "-label-filter", "-seed", "-out", "[packages] [-- go test flags]"},
		"list":   {"-label-filter", "-focus", "[packages]"},
		"up":     {"-runtime", "-f"},
		"report": {"DIR"},
		"clean":  {"Images are kept"},
	} {
		code, _, stderr := capture(t, cmd, "--help")
		if code != 0 || !strings.Contains(stderr, "Usage: faultline "+cmd) {
			t.Errorf("faultline %s --help: exit %d\n%s", cmd, code, stderr)
		}
		for _, f := range flags {
			if !strings.Contains(stderr, f) {
				t.Errorf("faultline %s --help does not mention %s:\n%s", cmd, f, stderr)
			}
		}
	}
	code, stdout, _ := capture(t, "help")
	for _, c := range []string{"faultline run", "faultline up", "faultline report", "faultline clean"} {
		if code != 0 || !strings.Contains(stdout, c) {
			t.Errorf("faultline help lacks %q:\n%s", c, stdout)
		}
	}
	if code, _, stderr := capture(t, "nonsense"); code != 2 || !strings.Contains(stderr, `unknown command "nonsense"`) {
		t.Errorf("unknown command: exit %d, %s", code, stderr)
	}
}

func TestTheNearestModuleIsFoundFromBelowAndNamedWhenMissing(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/shop\n\ngo 1.26\n"), 0o644)
	deep := filepath.Join(root, "cmd", "orders")
	os.MkdirAll(deep, 0o755)
	if got, mod, err := nearestModule(deep); err != nil || got != root || mod != "example.com/shop" {
		t.Fatalf("nearestModule(%s) = %q, %q, %v; want %q, example.com/shop", deep, got, mod, err, root)
	}
	if _, _, err := nearestModule("/"); err == nil || !strings.Contains(err.Error(), "run faultline inside a Go module") {
		t.Fatalf("outside any module: %v", err)
	}
}

func TestProgressShowsScenariosStartingAndEnding(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
		not  []string
	}{
		{"go-test-v.txt", []string{
			"▶ TestReadsStayAvailableWhileTheCacheIsDown\n",
			"  ✔ passed  TestReadsStayAvailableWhileTheCacheIsDown (17.92s)\n",
			"▶ TestOrdersFailFast\n",
			`shop_test.go:200: experiment "orders fail fast": check fail fast`,
			"  ✘ failed  TestOrdersFailFast (9.50s)\n",
			"  – skipped  TestSkipped (0.00s)\n",
			"faultline: 2 experiment(s) saved",
			"FAIL\texample.com/shop\t27.500s",
		}, []string{"INFO instance started", "leader_isolated (9.01s)", "=== RUN"}},
		{"ginkgo-v.txt", []string{
			"Running Suite: gk",
			"▶ local · passes: a thing holds\n  ✔ passed  local · passes: a thing holds (0.011s)\n",
			"▶ local · fails: a thing breaks\n  ✘ failed  local · fails: a thing breaks (0.001s)\n",
			"  – skipped  local · skips (0.000s)\n",
			"[FAIL] on local [It] fails: a thing breaks [local, b]",
			"Ran 2 of 3 Specs in 0.015 seconds\nFAIL! -- 1 Passed | 1 Failed | 0 Pending | 1 Skipped\n",
		}, []string{"hello from spec", "Expected", "=== RUN"}},
		{"ginkgo-skipped.txt", []string{
			"faultline seed 1795610075 — replay with FAULTLINE_SEED=1795610075",
			"  – skipped  docker · failover: with one of two accounts instances killed, at least 99% of accounts requests are served and its traffic moves to the sibling (0.004s)\n",
			"  – skipped  docker · isolation: with every",
		}, []string{"▶ SSSS", "[BeforeSuite]", "[AfterSuite]"}},
		{"ginkgo-interrupted.txt", []string{
			"▶ local · failover: with one of two accounts instances killed",
			"  ✘ interrupted  local · failover: with one of two accounts instances killed, at least 99% of accounts requests are served and its traffic moves to the sibling (8.862s)\n",
			"FAIL! - Interrupted by User",
		}, []string{"▶ Interrupted", "▶ time=", "level=INFO"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var out, log bytes.Buffer
			p := &progress{w: &out, plain: strings.HasPrefix(tc.file, "go-test")}
			if err := p.Copy(bytes.NewReader(in), &log); err != nil {
				t.Fatal(err)
			}
			if log.String() != string(in) {
				t.Error("the log is not the whole output")
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("progress lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out.String(), w) {
					t.Errorf("progress shows %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestProgressPassesBuildErrorsThrough(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out}
	p.Copy(strings.NewReader("# github.com/faultline/faultline/scenarios_test\nscenarios/x_test.go:3:1: syntax error\nFAIL\tgithub.com/faultline/faultline/scenarios [build failed]\n"), nil)
	if !strings.Contains(out.String(), "syntax error") || !strings.Contains(out.String(), "[build failed]") {
		t.Fatalf("build error hidden:\n%s", out.String())
	}
}

func TestReportRendersASavedRunAgain(t *testing.T) {
	dir := t.TempDir()
	h := history.New()
	for i := range 100 {
		at := time.Duration(i) * 50 * time.Millisecond
		h.Add(history.Op{Intended: at, Start: at, End: at + 5*time.Millisecond, Route: "GET /", Outcome: history.OK})
	}
	c := report.NewCollector(report.Run{StartedAt: time.Now(), Seed: 7})
	c.AddHistory("local", h)
	c.Add(report.Scenario{ID: "local/x", Hypothesis: "x holds", Backend: "local", Verdict: report.Fail, History: report.HistoryFile("local"),
		Window: check.Window{Name: "x", From: 0, To: 5 * time.Second},
		Checks: check.Results{{Check: "availability", Bound: "≥ 99%", Figures: []check.Figure{{Name: "availability", Value: 0.9, Unit: "ratio"}}, Message: "availability 90.00%"}}})
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := capture(t, "report", dir)
	if code != 0 {
		t.Fatalf("faultline report: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "resilience score 0% — 0 passed, 1 failed, 0 skipped; 0 of 1 checks passed") || !strings.Contains(stdout, filepath.Join(dir, "index.html")) {
		t.Errorf("faultline report printed:\n%s", stdout)
	}
	for _, f := range []string{"index.html", "summary.md", "report.json", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if code, _, stderr := capture(t, "report", t.TempDir()); code != 1 || !strings.Contains(stderr, "scenarios.json") {
		t.Errorf("report of an empty dir: exit %d, %s", code, stderr)
	}
	if code, _, _ := capture(t, "report"); code != 2 {
		t.Errorf("report without DIR: exit %d, want 2", code)
	}
}

func TestPointLatestReplacesTheLink(t *testing.T) {
	out := t.TempDir()
	for _, stamp := range []string{"20260101-000000", "20260101-000100"} {
		os.MkdirAll(filepath.Join(out, stamp), 0o755)
		if err := pointLatest(out, stamp); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.Readlink(filepath.Join(out, "latest")); err != nil || got != "20260101-000100" {
		t.Fatalf("latest -> %q, %v", got, err)
	}
}

func TestAStoppedRunIsReportedFromGinkgosJUnit(t *testing.T) {
	run, err := runFromJUnit(filepath.Join("testdata", "ginkgo-junit.xml"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if run.Seed != 1795610901 || len(run.Scenarios) != 1 {
		t.Fatalf("run = %+v", run)
	}
	s := run.Scenarios[0]
	if s.Backend != "local" || s.Verdict != report.Fail || s.Failure != "interrupted: Interrupted by User" ||
		!strings.HasPrefix(s.Hypothesis, "failover: with one of two") || strings.HasSuffix(s.Hypothesis, "]") || len(s.Labels) != 2 {
		t.Fatalf("scenario = %+v", s)
	}
}

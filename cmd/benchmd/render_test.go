package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/bench/figure"
)

func sampleDoc() Doc {
	return Doc{
		Date:    time.Date(2026, 11, 25, 15, 4, 0, 0, time.UTC),
		Command: "make bench",
		Machine: Machine{CPU: "AMD EPYC", Cores: 2, Memory: "23.5 GiB", OS: "Debian GNU/Linux 12", Docker: "engine 20.10.24", Go: "go1.26.8"},
		Figures: []figure.Figure{
			{Group: "bring-up", Name: "reference system on docker", Measured: 11.61, Baseline: 4.284, BaselineName: "bare Docker API", Unit: "s", Samples: 3, Note: "image builds | sequential starts"},
			{Group: "toxiproxy hop", Name: "gateway read, throughput", Measured: 1378, Baseline: 2321, BaselineName: "no proxies", Unit: "req/s", Samples: 3},
			{Group: "bring-up", Name: "reference system on local processes", Measured: 1.806, Baseline: 0.9026, BaselineName: "os/exec", Unit: "s", Samples: 5},
			{Group: "checks", Name: "cheap check", Measured: 1, Baseline: 2, BaselineName: "a slower way", Unit: "ms", Samples: 5},
		},
	}
}

func render(t *testing.T, doc Doc) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, doc); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderHeaderSaysWhereWhenAndHow(t *testing.T) {
	out := render(t, sampleDoc())
	for _, want := range []string{
		"# faultline benchmarks",
		"| date | 2026-11-25 15:04 UTC |",
		"| command | `make bench` |",
		"| machine | 2 cores (AMD EPYC), 23.5 GiB memory |",
		"| OS | Debian GNU/Linux 12 |",
		"| docker | engine 20.10.24 |",
		"| go | go1.26.8 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestRenderOneTablePerGroupInFirstSeenOrder(t *testing.T) {
	out := render(t, sampleDoc())
	bring, hop := strings.Index(out, "## bring-up"), strings.Index(out, "## toxiproxy hop")
	if bring < 0 || hop < 0 || bring > hop {
		t.Fatalf("want the bring-up table before the hop table:\n%s", out)
	}
	table := out[bring:hop]
	for _, want := range []string{
		"| reference system on docker | 11.6 s | 4.28 s | bare Docker API | ×2.71 | 3 | image builds \\| sequential starts |",
		"| reference system on local processes | 1.81 s | 0.903 s | os/exec | ×2.00 | 5 |  |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("bring-up table lacks %q:\n%s", want, table)
		}
	}
	if !strings.Contains(out[hop:], "| gateway read, throughput | 1378 req/s | 2321 req/s | no proxies | ×0.594 | 3 |") {
		t.Errorf("hop table lacks the throughput row:\n%s", out[hop:])
	}
}

func TestRenderBoundsWorstFirstWithRatesInverted(t *testing.T) {
	doc := sampleDoc()
	doc.Bounds = "Docker's own container start bounds the rest.\n"
	out := render(t, doc)
	i := strings.Index(out, "## What bounds what remains")
	if i < 0 {
		t.Fatalf("no bounds section:\n%s", out)
	}
	sec := out[i:]
	docker := strings.Index(sec, "- **bring-up — reference system on docker**: ×2.71 its baseline's cost. image builds | sequential starts.")
	rate := strings.Index(sec, "- **toxiproxy hop — gateway read, throughput**: ×1.68 its baseline's cost")
	local := strings.Index(sec, "- **bring-up — reference system on local processes**: ×2.00 its baseline's cost")
	if docker < 0 || rate < 0 || local < 0 || !(docker < local && local < rate) {
		t.Errorf("want docker (×2.71), local (×2.00), throughput (×1.68) in that order:\n%s", sec)
	}
	if strings.Contains(sec, "cheap") || !strings.Contains(sec, "The other 1 figures are within 10% of their baseline, or better.") {
		t.Errorf("a figure at or under its baseline should be counted, not listed:\n%s", sec)
	}
	if !strings.HasSuffix(out, "Docker's own container start bounds the rest.\n") {
		t.Errorf("bench/bounds.md prose should end the file:\n%s", sec)
	}
}

func TestRenderIncludesRecordedVerbatimOnlyWhenPresent(t *testing.T) {
	out := render(t, sampleDoc())
	if strings.Contains(out, "## Recorded by hand") {
		t.Errorf("no recorded.md, yet a section for it:\n%s", out)
	}
	doc := sampleDoc()
	doc.Recorded = "Flakes:\n\n| scenario | passes |\n|---|---|\n| failover | 50/50 |\n"
	out = render(t, doc)
	i, j := strings.Index(out, "## Recorded by hand"), strings.Index(out, "## What bounds what remains")
	if i < 0 || j < i || !strings.Contains(out[i:j], doc.Recorded) {
		t.Errorf("recorded.md should appear verbatim, under a heading, before the bounds:\n%s", out)
	}
	// A file with its own heading keeps it, and gets no second one.
	doc.Recorded = "## Recorded runs\n\nsoak: 50 of 50 cycles\n"
	out = render(t, doc)
	i, j = strings.Index(out, "## Recorded runs"), strings.Index(out, "## What bounds what remains")
	if strings.Contains(out, "## Recorded by hand") || i < 0 || j < i || !strings.Contains(out[i:j], doc.Recorded) {
		t.Errorf("recorded.md with a heading should appear verbatim and alone:\n%s", out)
	}
}

func TestRenderListsWhatWasNotMeasured(t *testing.T) {
	log := `goos: linux
BenchmarkBringUpLocal-2   	       1	16616907006 ns/op
--- SKIP: BenchmarkBringUpDocker
    bringup_test.go:127: docker engine not reachable: skipping the docker bring-up figures
--- FAIL: BenchmarkSuiteWallTime
    suite_test.go:70: the suite saved no outcomes
FAIL
`
	doc := sampleDoc()
	doc.Unmeasured = Unmeasured(strings.NewReader(log))
	out := render(t, doc)
	for _, want := range []string{
		"## Not measured in this run",
		"- `BenchmarkBringUpDocker` skipped: docker engine not reachable: skipping the docker bring-up figures",
		"- `BenchmarkSuiteWallTime` failed: the suite saved no outcomes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestUnmeasuredReadsVerboseOutputToo(t *testing.T) {
	log := `BenchmarkBringUpDocker
    bringup_test.go:128: docker engine not reachable: skipping the docker bring-up figures
--- SKIP: BenchmarkBringUpDocker
BenchmarkSuiteWallTime
    suite_test.go:70: the suite saved no outcomes
--- FAIL: BenchmarkSuiteWallTime
BenchmarkToxiproxyHop
--- SKIP: BenchmarkToxiproxyHop
PASS
`
	got := Unmeasured(strings.NewReader(log))
	want := []Missing{
		{"BenchmarkBringUpDocker", "skipped", "docker engine not reachable: skipping the docker bring-up figures"},
		{"BenchmarkSuiteWallTime", "failed", "the suite saved no outcomes"},
		{"BenchmarkToxiproxyHop", "skipped", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("Unmeasured = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Unmeasured[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRenderWithoutFiguresSaysSo(t *testing.T) {
	doc := sampleDoc()
	doc.Figures = nil
	if out := render(t, doc); !strings.Contains(out, "No benchmark recorded a figure in this run.") {
		t.Errorf("an empty run should say so:\n%s", out)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{11.61: "11.6", 0.9026: "0.903", 1378.36: "1378", 2: "2.00", 0.000123: "0.000123", 0: "0"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRunWritesTheFileFromFigures(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "figures.jsonl")
	for _, f := range sampleDoc().Figures {
		if err := figure.Append(in, f); err != nil {
			t.Fatal(err)
		}
	}
	recorded := filepath.Join(dir, "recorded.md")
	if err := os.WriteFile(recorded, []byte("soak: 8 h, no leak\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "BENCHMARKS.md")
	if err := run(in, out, "", recorded, filepath.Join(dir, "absent.md"), "make bench"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## bring-up", "## toxiproxy hop", "soak: 8 h, no leak", "## What bounds what remains"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
}

func TestRunRefusesAnIncompleteFigure(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "figures.jsonl")
	if err := os.WriteFile(in, []byte(`{"group":"g","name":"n","unit":"s"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(in, filepath.Join(dir, "out.md"), "", "", "", "make bench")
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "BaselineName") {
		t.Fatalf("want an error naming the line and the missing field, got %v", err)
	}
}

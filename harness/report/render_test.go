package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	stdhtml "html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

func TestScoreIsTheShareOfScenariosThatPassed(t *testing.T) {
	run, _ := sample()
	s := report.ScoreOf(run)
	// The first scenario holds an informative time to detect among its checks and a
	// healing figure: neither counts.
	if s.Value != 50 || s.Passed != 1 || s.Failed != 1 || s.Skipped != 1 || s.Checks != 4 || s.ChecksPassed != 3 {
		t.Fatalf("score = %+v, want 50%% of 1 passed + 1 failed (1 skipped), 3 of 4 checks", s)
	}
	if got := report.ScoreOf(report.Run{}); got.Value != 0 {
		t.Fatalf("empty run scores %v, want 0", got.Value)
	}
}

func TestJSONHoldsEveryScenarioWithItsChecksAndFaults(t *testing.T) {
	run, _ := sample()
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int               `json:"schema_version"`
		Seed          uint64            `json:"seed"`
		Versions      map[string]string `json:"versions"`
		Score         struct{ Value float64 }
		Scenarios     []struct {
			Hypothesis, Verdict, Backend string
			Seed                         uint64
			Recovery                     *int64 `json:"recovery_ns"`
			RecoveryFrom                 string `json:"recovery_from"`
			Healing                      *int64 `json:"healing_ns"`
			Figures                      []struct {
				Check       string
				Informative bool
				Pass        bool
			}
			Faults []struct {
				Name          string
				InjectedAt    int64 `json:"injected_at_ns"`
				HealStartedAt int64 `json:"heal_started_at_ns"`
				HealedAt      int64 `json:"healed_at_ns"`
			}
			Checks []struct {
				Check, Bound string
				Pass         bool
				Figures      []struct {
					Name  string
					Value float64
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("report.json does not parse: %v\n%s", err, buf.String())
	}
	if doc.SchemaVersion != 2 || doc.Seed != 42 || doc.Versions["go"] == "" || doc.Score.Value != 50 || len(doc.Scenarios) != 3 {
		t.Fatalf("report.json header wrong: %+v", doc)
	}
	s := doc.Scenarios[0]
	// The recovery is measured from the heal's start (8 s) to the first window meeting
	// the SLO (9.5 s); the heal itself took from 8 s to 9 s.
	if s.Hypothesis == "" || s.Verdict != "pass" || s.Backend != "local" || s.Seed != 42 || s.Recovery == nil || *s.Recovery != 1.5e9 ||
		s.RecoveryFrom != "heal_start" || s.Healing == nil || *s.Healing != 1e9 {
		t.Fatalf("scenario 0 = %+v", s)
	}
	// Checks hold checks only; the figures stand apart, informative, without a verdict.
	if len(s.Checks) != 2 || s.Checks[0].Check != "availability" || s.Checks[1].Check != "time to recover" || len(s.Figures) != 2 {
		t.Fatalf("scenario 0 checks %+v, figures %+v", s.Checks, s.Figures)
	}
	for _, f := range s.Figures {
		if !f.Informative || f.Pass {
			t.Errorf("figure %+v is not informative", f)
		}
	}
	if f := s.Faults[0]; f.Name != "kill accounts-1" || f.InjectedAt != 5e9 || f.HealStartedAt != 8e9 || f.HealedAt != 9e9 {
		t.Fatalf("fault = %+v", f)
	}
	if c := doc.Scenarios[1].Checks[0]; c.Pass || c.Bound != "≥ 99%" || len(c.Figures) != 4 || c.Figures[2].Name != "availability" {
		t.Fatalf("failing check = %+v", c)
	}
}

func TestMarkdownIsATableWithFailedChecksBelow(t *testing.T) {
	run, _ := sample()
	var buf bytes.Buffer
	if err := report.WriteMarkdown(&buf, run); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"**Resilience score 50%**: 1 passed, 1 failed, 1 skipped; 3 of 4 checks passed. Seed 42",
		"| Scenario | Backend | Verdict | Key figures | Heal took | Recovery |",
		"| the gateway fails over when an accounts instance dies | local | ✅ pass | availability 96.00%, time_to_detect 160ms | 1.0s | 1.5s from heal start |",
		"| orders stay available while inventory is down | local | ❌ fail | availability 93.10%, p99 300ms | — | — |",
		"| the gateway fails over when an accounts instance dies | docker | ⏭️ skipped | — | — | — |",
		"### ❌ orders stay available while inventory is down (local)",
		"- **availability**: ops 350, ok 280, availability 93.10%, errors.refused 70 against bound ≥ 99%",
		"Replay: `FAULTLINE_SEED=42 FAULTLINE_RUNTIME=local go test ./scenarios/",
		"### Figures (reported, not checked)",
		"- the gateway fails over when an accounts instance dies (local), **healing**: heal_time 1000ms, faults 1, healed 1",
		"- the gateway fails over when an accounts instance dies (local), **time to detect**: detected 1, time_to_detect 160ms",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "### ❌ the gateway") {
		t.Errorf("summary.md lists a passing scenario as failed:\n%s", md)
	}
}

func TestJUnitHasOneTestcasePerScenario(t *testing.T) {
	run, _ := sample()
	var buf bytes.Buffer
	if err := report.WriteJUnit(&buf, run); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				SystemOut string `xml:"system-out"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, buf.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Skipped != 1 || len(doc.Suites) != 2 || len(doc.Suites[0].Cases) != 2 {
		t.Fatalf("junit counts wrong:\n%s", buf.String())
	}
	f := doc.Suites[0].Cases[1].Failure
	if f == nil || f.Message != "availability: ops 350, ok 280, availability 93.10%, errors.refused 70 against ≥ 99%" {
		t.Fatalf("failure = %+v", f)
	}
	if doc.Suites[0].Cases[0].Failure != nil {
		t.Fatal("a passing scenario has a failure")
	}
	// Checks first, with their verdicts; figures after them, marked INFO.
	out := doc.Suites[0].Cases[0].SystemOut
	if !strings.Contains(out, "PASS recovered 1500ms after the heal of kill accounts-1") || !strings.Contains(out, "INFO the harness spent 1000ms healing kill accounts-1") ||
		!strings.Contains(out, "INFO first failure 160ms after during kill accounts-1 began") || strings.Index(out, "INFO") < strings.LastIndex(out, "PASS") {
		t.Fatalf("system-out lists checks and figures wrong:\n%s", out)
	}
}

// text strips tags, for reading a page as a person would.
func text(html string) string {
	html = regexp.MustCompile(`(?s)<svg.*?</svg>|<style.*?</style>`).ReplaceAllString(html, " ")
	html = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(html, " ")
	return strings.Join(strings.Fields(stdhtml.UnescapeString(html)), " ")
}

func TestHTMLSaysWhatFailedAndDrawsTheTimeline(t *testing.T) {
	run, hs := sample()
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, run, hs); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	seen := text(page)
	for _, want := range []string{
		"50% resilience score",
		"1 passed · 1 failed · 1 skipped 3 of 4 checks passed",
		"100 × passed ÷ (passed + failed)",
		"fail orders stay available while inventory is down",
		"Failed: availability measured ops 350, ok 280, availability 93.10%, errors.refused 70 against bound ≥ 99% .",
		"Recovery: 1.5s from heal start · heal took 1.0s",
		"Heal took Recovery",
		"Figures Reported, not checked: these have no bound and count neither way. Figure Window Figures Message healing heal of kill accounts-1 heal_time 1000ms",
		"time to detect during kill accounts-1 detected 1, time_to_detect 160ms",
		"Skipped: nothing ran.",
		"Replay exactly: FAULTLINE_SEED=42",
	} {
		if !strings.Contains(seen, want) {
			t.Errorf("page lacks %q; it reads:\n%s", want, seen)
		}
	}
	if strings.Contains(seen, "time to detect pass") || strings.Contains(seen, "healing pass") {
		t.Errorf("a figure is listed as a passed check; the page reads:\n%s", seen)
	}
	// Links from the summary reach each scenario's section.
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("link #%s leads nowhere", m[1])
		}
	}
	// Two charts (the skipped scenario has none), drawn by gonum/plot, with the fault
	// windows labelled and the recovery marked on the first.
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("page has %d charts, want 2", n)
	}
	for _, want := range []string{"kill accounts-1", "kill inventory-1", "recovered +1.5s from heal start", "ops/s", "errors %", "latency ms", "p99", "fill-opacity"} {
		if !strings.Contains(page, want) {
			t.Errorf("charts lack %q", want)
		}
	}
	if strings.Contains(page, "<?xml") || strings.Contains(page, "<script") {
		t.Error("page has an XML prolog or a script inline")
	}
	// Nothing is fetched: no src, no href but in-page anchors, no url() or @import.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"([^#"][^"]*)"|url\(|@import`).FindString(page); m != "" {
		t.Errorf("page refers outside itself: %s", m)
	}
}

func TestHTMLWithoutHistorySaysWhyThereIsNoChart(t *testing.T) {
	run, _ := sample()
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, run, map[string]*history.History{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text(buf.String()), `No history named "history-local.jsonl" was saved with this report: no chart.`) {
		t.Fatalf("page does not say why the chart is missing:\n%s", text(buf.String()))
	}
}

func TestTimelineBucketsBySecond(t *testing.T) {
	_, hs := sample()
	secs := report.Timeline(hs["local"], run0Window())
	if len(secs) != 16 {
		t.Fatalf("%d seconds, want 16", len(secs))
	}
	// Second 3 of the window is [5s, 6s): 12 of its 50 ops answered 503 after 120ms.
	if s := secs[3]; s.Ops != 50 || s.OK != 38 || s.ErrorRate != 0.24 || s.P99.Milliseconds() != 120 || s.P50.Milliseconds() != 8 {
		t.Fatalf("second 3 = %+v", s)
	}
	if s := secs[0]; s.Ops != 50 || s.ErrorRate != 0 {
		t.Fatalf("second 0 = %+v", s)
	}
}

func run0Window() check.Window {
	run, _ := sample()
	return run.Scenarios[0].Window
}

func TestRenderWritesFourFilesAndLoadReadsThemBack(t *testing.T) {
	run, hs := sample()
	dir := t.TempDir()
	// What the suite saves, then the report rendered from it.
	c := report.NewCollector(report.Run{StartedAt: run.StartedAt, Duration: run.Duration, Seed: run.Seed, Versions: run.Versions})
	c.AddHistory("local", hs["local"])
	for _, s := range run.Scenarios {
		c.Add(s)
	}
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, ghs, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Scenarios) != 3 || ghs["local"] == nil || len(ghs["local"].Ops()) != 2000 {
		t.Fatalf("loaded %d scenarios, histories %v", len(got.Scenarios), ghs)
	}
	if err := report.Render(dir, got, ghs); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "summary.md", "index.html", "junit.xml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v, %d bytes", f, err, len(b))
		}
	}
	if _, _, err := report.Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "FAULTLINE_REPORT_DIR") {
		t.Errorf("loading an empty dir: %v, want an error naming FAULTLINE_REPORT_DIR", err)
	}
}

// TestASchema1RunStillRenders: data saved before schema 2 loads, and its recovery,
// measured then from the heal's end, is shown without claiming where it starts.
func TestASchema1RunStillRenders(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"schema_version": 1, "seed": 7, "runtimes": ["local"], "scenarios": [{"id": "local/x", "hypothesis": "x holds",
		"backend": "local", "verdict": "pass", "window": {"name": "x", "from_ns": 0, "to_ns": 1000000000},
		"history": "history-local.jsonl", "checks": [{"check": "time to detect", "window": {"name": "w", "from_ns": 0, "to_ns": 1},
		"pass": true, "figures": [{"name": "detected", "value": 0}], "message": "not felt"}], "recovery_ns": 400000000, "seed": 7, "duration_ns": 1}]}`
	if err := os.WriteFile(filepath.Join(dir, report.ScenariosFile), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	run, _, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var md, js bytes.Buffer
	if err := report.WriteMarkdown(&md, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| x holds | local | ✅ pass | — | — | 400ms |") {
		t.Errorf("summary.md of a schema 1 run:\n%s", md.String())
	}
	if err := report.WriteJSON(&js, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"schema_version": 2`) || strings.Contains(js.String(), `"recovery_from"`) {
		t.Errorf("report.json of a schema 1 run:\n%s", js.String())
	}
}

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
			Faults                       []struct {
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
	if doc.SchemaVersion != 1 || doc.Seed != 42 || doc.Versions["go"] == "" || doc.Score.Value != 50 || len(doc.Scenarios) != 3 {
		t.Fatalf("report.json header wrong: %+v", doc)
	}
	s := doc.Scenarios[0]
	if s.Hypothesis == "" || s.Verdict != "pass" || s.Backend != "local" || s.Seed != 42 || s.Recovery == nil || *s.Recovery != 1.5e9 {
		t.Fatalf("scenario 0 = %+v", s)
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
		"| Scenario | Backend | Verdict | Key figures | Recovery |",
		"| the gateway fails over when an accounts instance dies | local | ✅ pass | availability 96.00% | 1.5s |",
		"| orders stay available while inventory is down | local | ❌ fail | availability 93.10%, p99 300ms | — |",
		"| the gateway fails over when an accounts instance dies | docker | ⏭️ skipped | — | — |",
		"### ❌ orders stay available while inventory is down (local)",
		"- **availability**: ops 350, ok 280, availability 93.10%, errors.refused 70 against bound ≥ 99%",
		"Replay: `FAULTLINE_SEED=42 FAULTLINE_RUNTIME=local go test ./scenarios/",
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
				Name    string `xml:"name,attr"`
				Failure *struct {
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
		"Recovery: 1.5s",
		"Skipped: nothing ran.",
		"Replay exactly: FAULTLINE_SEED=42",
	} {
		if !strings.Contains(seen, want) {
			t.Errorf("page lacks %q; it reads:\n%s", want, seen)
		}
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
	for _, want := range []string{"kill accounts-1", "kill inventory-1", "recovered +1.5s", "ops/s", "errors %", "latency ms", "p99", "fill-opacity"} {
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

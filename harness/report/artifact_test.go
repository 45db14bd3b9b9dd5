package report_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// TestANonLinearizableHistoryKeepsItsVisualisation builds a history that is not
// linearizable on purpose (a read that sees a value overwritten before it began),
// saves it as the suites do, renders the report from the saved files alone, and
// follows the report's link to porcupine's visualisation of it — also after rendering
// into another directory.
func TestANonLinearizableHistoryKeepsItsVisualisation(t *testing.T) {
	h := history.New()
	kv := func(start, end time.Duration, in, out map[string]string) {
		h.Add(history.Op{Intended: start, Start: start, End: end, Route: "kv", Outcome: history.OK, ServedBy: "accounts-1", Input: in, Output: out})
	}
	kv(0, 10*time.Millisecond, map[string]string{"op": check.KVWrite, "key": "x", "value": "first"}, nil)
	kv(20*time.Millisecond, 30*time.Millisecond, map[string]string{"op": check.KVWrite, "key": "x", "value": "second"}, nil)
	kv(40*time.Millisecond, 50*time.Millisecond, map[string]string{"op": check.KVRead, "key": "x"}, map[string]string{"value": "first"})
	w := check.Window{Name: "nemesis", From: 0, To: time.Second}
	lin := check.Linearizable(h, check.Selection{Window: w}, 10*time.Second)
	if lin.Pass || len(lin.Artifacts) != 1 {
		t.Fatalf("a stale read: %s, %d artifacts", lin, len(lin.Artifacts))
	}
	c := report.NewCollector(report.Run{Seed: 1})
	c.AddHistory("local", h)
	c.Add(report.Scenario{ID: "local/nemesis", Hypothesis: "the register stays linearizable under a nemesis", Backend: "local",
		Verdict: report.Fail, Window: w, History: report.HistoryFile("local"), Checks: check.Results{lin}})
	dir := t.TempDir()
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	run, hs, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{dir, t.TempDir()} {
		if err := report.Render(out, run, hs); err != nil {
			t.Fatal(err)
		}
		page, err := os.ReadFile(filepath.Join(out, report.HTMLFile))
		if err != nil {
			t.Fatal(err)
		}
		links := regexp.MustCompile(`<a class="artifact" href="([^"]+)">porcupine visualisation</a>`).FindAllStringSubmatch(string(page), -1)
		if len(links) == 0 {
			t.Fatalf("%s: index.html links no visualisation", out)
		}
		vis, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(links[0][1])))
		if err != nil {
			t.Fatalf("the link %s leads nowhere: %v", links[0][1], err)
		}
		for _, want := range []string{"<html", `"second"`, "served by accounts-1"} {
			if !strings.Contains(string(vis), want) {
				t.Errorf("%s: the visualisation lacks %s", links[0][1], want)
			}
		}
		md, _ := os.ReadFile(filepath.Join(out, report.MarkdownFile))
		if !strings.Contains(string(md), "[porcupine visualisation]("+links[0][1]+")") {
			t.Errorf("summary.md does not link the visualisation:\n%s", md)
		}
		junit, _ := os.ReadFile(filepath.Join(out, report.JUnitFile))
		if !strings.Contains(string(junit), "porcupine visualisation: "+links[0][1]) {
			t.Errorf("junit.xml does not name the visualisation")
		}
		js, _ := os.ReadFile(filepath.Join(out, report.JSONFile))
		if !strings.Contains(string(js), `"file": "`+links[0][1]+`"`) {
			t.Errorf("report.json does not name the visualisation's file")
		}
	}
}

// TestFileSlugsFitAFileSystem: a hypothesis is a sentence, and a file named after it
// must still open: long slugs are cut and keep a hash of the whole, short ones are kept.
func TestFileSlugsFitAFileSystem(t *testing.T) {
	long := "local/" + strings.Repeat("with every inventory instance down accounts keeps serving ", 6)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short", "local/Failover: 99%", "local-failover--99"},
		{"long", long, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := report.FileSlug(tc.in)
			if tc.want != "" && got != tc.want {
				t.Errorf("FileSlug(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(got) > 80 {
				t.Errorf("FileSlug of %d bytes is %d bytes long, want at most 80: %q", len(tc.in), len(got), got)
			}
			if f := filepath.Join(t.TempDir(), report.HistoryFile(got)); os.WriteFile(f, nil, 0o644) != nil {
				t.Errorf("a file named after %q cannot be written", got)
			}
		})
	}
	if a, b := report.FileSlug(long+"a"), report.FileSlug(long+"b"); a == b {
		t.Errorf("two long names that differ only at their end share the slug %q", a)
	}
}

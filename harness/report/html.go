package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
)

//go:embed index.html.tmpl
var indexTemplate string

var indexTmpl = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"figures": figuresText,
	"figure":  figureValue,
	"pct":     func(v float64) string { return fmt.Sprintf("%.0f%%", v) },
	"dur":     fmtDuration,
	"lower":   strings.ToLower,
}).Parse(indexTemplate))

// htmlScenario is one scenario's section as the template reads it.
type htmlScenario struct {
	Scenario
	Anchor   string
	Chart    template.HTML
	NoChart  string
	Failed   check.Results
	Faults   []htmlFault
	KeyFigs  string
	Recovery string
	Healing  string
}

type htmlFault struct {
	Fault
	Injected, HealStarted, Healed string
}

type htmlPage struct {
	Run       Run
	Score     Score
	Started   string
	Took      string
	Scenarios []htmlScenario
}

// WriteHTML writes index.html: one self-contained page (inline CSS, charts as inline
// SVG, no script, nothing fetched) with the score and a linked table of scenarios at
// the top and one section per scenario: its verdict and hypothesis, which check failed
// with which figure against which bound, a timeline chart of its window, its faults and
// every check with its figures, then the figures reported without a bound, apart from
// the checks. histories maps a history's name (as in HistoryFile(name), usually the
// backend) to the history scenarios' windows refer to.
func WriteHTML(w io.Writer, run Run, histories map[string]*history.History) error {
	run = normalized(run)
	page := htmlPage{Run: run, Score: ScoreOf(run), Took: fmtDuration(run.Duration.Round(time.Second))}
	if !run.StartedAt.IsZero() {
		page.Started = run.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for i, s := range run.Scenarios {
		hs := htmlScenario{Scenario: s, Anchor: fmt.Sprintf("s%d-%s", i+1, anchor(s.ID)), Failed: s.Checks.Failed(),
			KeyFigs: keyFigures(append(s.Checks, s.Figures...)), Recovery: recoveryText(s), Healing: healingText(s)}
		rel := func(t time.Duration) string {
			if t == 0 {
				return "—"
			}
			return fmt.Sprintf("+%.1fs", (t - s.Window.From).Seconds())
		}
		for _, f := range s.Faults {
			hs.Faults = append(hs.Faults, htmlFault{Fault: f, Injected: rel(f.InjectedAt), HealStarted: rel(f.HealStartedAt), Healed: rel(f.HealedAt)})
		}
		switch h := historyOf(s, histories); {
		case s.Verdict == Skipped:
			hs.NoChart = "Skipped: nothing ran."
		case h == nil:
			hs.NoChart = fmt.Sprintf("No history named %q was saved with this report: no chart.", s.History)
		case s.Window.To <= s.Window.From:
			hs.NoChart = "The scenario's window is empty: no chart."
		default:
			var svg bytes.Buffer
			if err := WriteChart(&svg, s, h); err != nil {
				return fmt.Errorf("write index.html: %w", err)
			}
			hs.Chart = template.HTML(svg.String()) // our own SVG, from gonum/plot
		}
		page.Scenarios = append(page.Scenarios, hs)
	}
	if err := indexTmpl.Execute(w, page); err != nil {
		return fmt.Errorf("write index.html: %w", err)
	}
	return nil
}

// historyOf finds the history a scenario's window refers to: by its file name's name,
// else by its backend.
func historyOf(s Scenario, hs map[string]*history.History) *history.History {
	name := strings.TrimSuffix(strings.TrimPrefix(s.History, "history-"), ".jsonl")
	if h, ok := hs[name]; ok {
		return h
	}
	return hs[s.Backend]
}

// anchor makes an HTML id out of a scenario id.
func anchor(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// maxFileSlug bounds the part of a file name made from a scenario's words: file systems
// refuse names over 255 bytes, and a hypothesis is a sentence.
const maxFileSlug = 80

// FileSlug is s made fit for a file name: lower-case letters, digits and dashes, at most
// 80 bytes; a longer one is cut and ends in a hash of the whole, so that two long names
// that begin alike still differ.
func FileSlug(s string) string {
	slug := strings.Trim(anchor(s), "-")
	if len(slug) <= maxFileSlug {
		return slug
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%s-%08x", strings.TrimRight(slug[:maxFileSlug-9], "-"), h.Sum32())
}

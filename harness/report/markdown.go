package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/faultline/faultline/harness/check"
)

// WriteMarkdown writes summary.md: the score, a table a CI job can paste into a pull
// request (scenario, backend, verdict, key figures, the time the heal took, recovery
// and what it is measured from), for every failing scenario its failed checks with
// figure against bound and the command that replays it, and last the figures reported
// without a bound, apart from the checks.
func WriteMarkdown(w io.Writer, run Run) error {
	run = normalized(run)
	b := bufio.NewWriter(w)
	sc := ScoreOf(run)
	fmt.Fprintf(b, "## faultline resilience report\n\n")
	fmt.Fprintf(b, "**Resilience score %.0f%%**: %d passed, %d failed, %d skipped; %d of %d checks passed. Seed %d",
		sc.Value, sc.Passed, sc.Failed, sc.Skipped, sc.ChecksPassed, sc.Checks, run.Seed)
	if len(run.Runtimes) > 0 {
		fmt.Fprintf(b, ", runtime %s", strings.Join(run.Runtimes, ", "))
	}
	fmt.Fprintf(b, ".\n\n")
	fmt.Fprintf(b, "| Scenario | Backend | Verdict | Key figures | Heal took | Recovery |\n|---|---|---|---|---|---|\n")
	for _, s := range run.Scenarios {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", mdCell(s.Hypothesis+brokenText(s)), s.Backend, verdictMark(s.Verdict),
			mdCell(keyFigures(append(s.Checks, s.Figures...))), healingText(s), recoveryText(s))
	}
	for _, s := range run.Scenarios {
		if s.Verdict != Fail {
			continue
		}
		fmt.Fprintf(b, "\n### ❌ %s (%s)\n\n", s.Hypothesis, s.Backend)
		failed := s.Checks.Failed()
		if len(failed) == 0 && s.Failure != "" {
			fmt.Fprintf(b, "- %s\n", mdLine(firstLine(s.Failure)))
		}
		for _, c := range failed {
			fmt.Fprintf(b, "- **%s**: %s against bound %s — %s", c.Check, figuresText(c.Figures), orDash(c.Bound), mdLine(c.Message))
			for _, a := range c.Artifacts {
				if a.File != "" {
					fmt.Fprintf(b, " ([%s](%s))", mdLine(a.Name), a.File)
				}
			}
			fmt.Fprintln(b)
		}
		if s.Replay != "" {
			fmt.Fprintf(b, "\nReplay: `%s`\n", s.Replay)
		}
	}
	figures := false
	for _, s := range run.Scenarios {
		if len(s.Figures) == 0 || s.Verdict == Skipped {
			continue
		}
		if !figures {
			fmt.Fprintf(b, "\n### Figures (reported, not checked)\n\n")
			figures = true
		}
		for _, f := range s.Figures {
			fmt.Fprintf(b, "- %s (%s), **%s**: %s\n", mdLine(s.Hypothesis), s.Backend, f.Check, figuresText(f.Figures))
		}
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("write summary.md: %w", err)
	}
	return nil
}

// recoveryText reads a scenario's recovery with what it is measured from:
// "1.5s from heal start", "0ms from injection"; "—" when none was measured.
func recoveryText(s Scenario) string {
	if s.Recovery == nil {
		return "—"
	}
	switch s.RecoveryFrom {
	case RecoveryFromHealStart:
		return fmtDuration(*s.Recovery) + " from heal start"
	case RecoveryFromInject:
		return fmtDuration(*s.Recovery) + " from injection"
	}
	return fmtDuration(*s.Recovery)
}

// healingText is the time the harness spent healing, or "—".
func healingText(s Scenario) string {
	if s.Healing == nil {
		return "—"
	}
	return fmtDuration(*s.Healing)
}

// keyFigureNames are the figures the summary table shows, in this order, when present.
var keyFigureNames = []string{"availability", "p99", "p99_during", "time_to_failover", "time_to_detect", "time_to_restart", "time_to_serve", "lost"}

// keyFigures picks at most three headline figures from a scenario's checks.
func keyFigures(rs check.Results) string {
	var parts []string
	seen := map[string]bool{}
	for _, name := range keyFigureNames {
		for _, r := range rs {
			if v, ok := r.Figure(name); ok && !seen[name] && len(parts) < 3 {
				seen[name] = true
				parts = append(parts, name+" "+figureValue(check.Figure{Name: name, Value: v, Unit: unitOf(r, name)}))
			}
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func unitOf(r check.Result, name string) string {
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Unit
		}
	}
	return ""
}

// figureValue reads a figure as a person would: ratios as percentages, ms with a unit.
func figureValue(f check.Figure) string {
	switch f.Unit {
	case "ratio":
		return fmt.Sprintf("%.2f%%", 100*f.Value)
	case "ms":
		return fmt.Sprintf("%.0fms", f.Value)
	case "":
		return fmt.Sprintf("%g", f.Value)
	}
	return fmt.Sprintf("%g%s", f.Value, f.Unit)
}

// figuresText lists figures as "availability 93.10%, ops 1200".
func figuresText(fs []check.Figure) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		parts = append(parts, f.Name+" "+figureValue(f))
	}
	if len(parts) == 0 {
		return "no figure"
	}
	return strings.Join(parts, ", ")
}

func verdictMark(v string) string {
	switch v {
	case Pass:
		return "✅ pass"
	case Fail:
		return "❌ fail"
	}
	return "⏭️ " + v
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// mdCell escapes a table cell: pipes would end it, newlines would end the row.
func mdCell(s string) string { return strings.ReplaceAll(mdLine(s), "|", `\|`) }

func mdLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// brokenText notes, after a proof's hypothesis, what it broke on purpose.
func brokenText(s Scenario) string {
	if s.Broken == "" {
		return ""
	}
	return " — with " + s.Broken + " broken on purpose, it must go red"
}

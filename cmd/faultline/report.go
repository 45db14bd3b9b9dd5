package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/faultline/faultline/harness/report"
)

func cmdReport(_ context.Context, args []string) int {
	fs := newFlagSet("report", "Render the report of a finished run again from what it saved in DIR (scenarios.json\n"+
		"and history-*.jsonl): report.json, summary.md, index.html and junit.xml.", "DIR")
	out := fs.String("out", "", "directory to write the report into (default: DIR itself)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "faultline report: name the directory of a run, e.g. faultline report reports/latest")
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	if *out == "" {
		*out = dir
	}
	run, histories, err := report.Load(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline report: %v\n", err)
		return 1
	}
	if err := report.Render(*out, run, histories); err != nil {
		fmt.Fprintf(os.Stderr, "faultline report: %v\n", err)
		return 1
	}
	index, _ := filepath.Abs(filepath.Join(*out, report.HTMLFile))
	fmt.Println(summaryLine(run))
	fmt.Println(index)
	return 0
}

// summaryLine reads "score 50% — 1 passed, 1 failed, 1 skipped".
func summaryLine(run report.Run) string {
	s := report.ScoreOf(run)
	return fmt.Sprintf("resilience score %.0f%% — %d passed, %d failed, %d skipped; %d of %d checks passed",
		s.Value, s.Passed, s.Failed, s.Skipped, s.ChecksPassed, s.Checks)
}

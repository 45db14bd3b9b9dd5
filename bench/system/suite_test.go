package system_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/bench/system/suitetime"
	"github.com/faultline/faultline/harness/report"
)

// suiteFilter picks the scenarios the suite benchmark runs: every resilience scenario
// on local processes, without the blind proofs (each brings a system of its own up and
// records no scenario) and without anything labelled slow. FAULTLINE_BENCH_SUITE_FILTER
// overrides it.
const suiteFilter = "local && !blind && !slow"

// suiteSeed fixes the nemesis's draws, so that runs of the benchmark compare.
const suiteSeed = "1"

// BenchmarkSuiteWallTime runs the scenario suite on local processes once, as a user
// would (a compiled scenarios test binary, FAULTLINE_REPORT_DIR set), and sets its wall
// time against the time its scenarios inherently need: every fault's active span plus
// every measured recovery, read back from the saved scenarios.json. Compiling the
// binary is not timed. -short skips it.
func BenchmarkSuiteWallTime(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: skipping the scenario suite (several minutes)")
	}
	ctx := bounded(b, 25*time.Minute)
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "scenarios.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./scenarios/")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("compile the scenario suite: %v\n%s", err, out)
	}
	filter := suiteFilter
	if f := os.Getenv("FAULTLINE_BENCH_SUITE_FILTER"); f != "" {
		filter = f
	}
	reports := filepath.Join(dir, "report")
	cmd := exec.CommandContext(ctx, bin, "-test.count=1", "-test.timeout=24m", "-ginkgo.no-color",
		"-ginkgo.label-filter="+filter)
	cmd.Dir = filepath.Join(root, "scenarios")
	cmd.Env = append(os.Environ(), "FAULTLINE_RUNTIME=local", "FAULTLINE_REPORT_DIR="+reports, "FAULTLINE_SEED="+suiteSeed)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// An interrupt lets Ginkgo run every cleanup; the instances die with the suite anyway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	began := time.Now()
	runErr := cmd.Run()
	wall := time.Since(began)

	raw, err := os.ReadFile(filepath.Join(reports, report.ScenariosFile))
	if err != nil {
		b.Fatalf("the suite saved no outcomes (%v): %v\n%s", runErr, err, tail(out.String(), 40))
	}
	var run report.Run
	if err := json.Unmarshal(raw, &run); err != nil {
		b.Fatalf("read %s: %v", report.ScenariosFile, err)
	}
	split := suitetime.Of(run)
	if split.Scenarios == 0 {
		b.Fatalf("the suite ran no scenario with filter %q\n%s", filter, tail(out.String(), 40))
	}
	outcome := fmt.Sprintf("%d scenarios, all passed", split.Scenarios)
	if split.Failed > 0 || runErr != nil {
		outcome = fmt.Sprintf("%d scenarios, %d failed (%v)", split.Scenarios, split.Failed, runErr)
		b.Logf("the suite failed; its figures stand, its tail:\n%s", tail(out.String(), 30))
	}
	cmdline := fmt.Sprintf("FAULTLINE_RUNTIME=local FAULTLINE_SEED=%s go test ./scenarios/ -ginkgo.label-filter='%s'", suiteSeed, filter)
	figure.Report(b, figure.Figure{
		Group: "suite", Name: "local suite wall time against its inherent fault and recovery time",
		Measured: wall.Seconds(), Baseline: split.Inherent().Seconds(),
		BaselineName: fmt.Sprintf("sum over scenarios of fault-active time (%.0f s) and measured recovery (%.1f s)",
			split.FaultActive.Seconds(), split.Recovery.Seconds()),
		Unit: "s", Samples: 1,
		Note: fmt.Sprintf("%s; `%s`", outcome, cmdline),
	})
	figure.Report(b, figure.Figure{
		Group: "suite", Name: "local suite wall time against the sum of its scenarios' own durations",
		Measured: wall.Seconds(), Baseline: split.Durations.Seconds(),
		BaselineName: "sum of the scenarios' spec durations (the rest is process start, bring-up, seeding, teardown)",
		Unit:         "s", Samples: 1, Note: outcome,
	})
	figure.Report(b, figure.Figure{
		Group: "suite", Name: "scenario time against its inherent fault and recovery time",
		Measured: split.Durations.Seconds(), Baseline: split.Inherent().Seconds(),
		BaselineName: "sum of fault-active time and measured recovery",
		Unit:         "s", Samples: split.Scenarios,
		Note: fmt.Sprintf("before the first fault %.0f s (steady-state check, load settling, the 'before' window); "+
			"after the last heal %.0f s (recovery observed, steady-state check after); scenarios without a fault %.0f s; "+
			"the rest is each spec's own setup and cleanup (loads stopped, faults healed, outcome recorded)",
			split.Lead.Seconds(), split.Trail.Seconds(), split.Unfaulted.Seconds()),
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package experiment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// ReportDirEnv names the directory a package's report is written to, instead of
// reports/<time> in its module.
const ReportDirEnv = "FAULTLINE_REPORT_DIR"

// ReportPartsEnv names a directory that several packages' test binaries write into at
// once (`faultline run` sets it): each saves its experiments, unrendered, into a
// directory of its own below it (PartDir), and the command merges them into one
// report.
const ReportPartsEnv = "FAULTLINE_REPORT_PARTS"

// reporter collects the experiments of one test binary.
type reporter struct {
	mu      sync.Mutex
	started time.Time
	c       *report.Collector
	n       int
	// names are the histories saved so far, by the name they were saved under: the
	// experiments of one system (a Ginkgo Ordered container) share one history, saved once.
	names map[*history.History]string
}

var defaultReport = &reporter{started: time.Now()}

func (r *reporter) add(s report.Scenario, histName string, h *history.History) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == nil {
		r.c = report.NewCollector(report.Run{StartedAt: r.started, Seed: s.Seed})
	}
	if r.names == nil {
		r.names = map[*history.History]string{}
	}
	if name, ok := r.names[h]; ok {
		s.History = report.HistoryFile(name)
	} else {
		r.names[h] = histName
		r.c.AddNamedHistory(histName, h)
	}
	r.c.Add(s)
	r.n++
}

// Recorded is how many experiments this test binary has recorded so far.
func Recorded() int {
	defaultReport.mu.Lock()
	defer defaultReport.mu.Unlock()
	return defaultReport.n
}

// Outcomes returns the experiments this test binary has recorded so far, in order: a
// suite can repeat its failed checks after its summary.
func Outcomes() []report.Scenario {
	defaultReport.mu.Lock()
	defer defaultReport.mu.Unlock()
	if defaultReport.c == nil {
		return nil
	}
	return defaultReport.c.Run().Scenarios
}

// WriteReport writes the report of every experiment recorded so far into dir
// (index.html, summary.md, report.json, junit.xml, with each experiment's history and
// its checks' artifacts), or, when dir is "", into ReportDir; under `faultline run`
// ($FAULTLINE_REPORT_PARTS) it saves them unrendered into the package's part, which
// the command merges. It returns the directory. Call it from Ginkgo's ReportAfterSuite:
//
//	var _ = ReportAfterSuite("faultline report", func(Report) { experiment.WriteReport("") })
func WriteReport(dir string) (string, error) {
	defaultReport.mu.Lock()
	c := defaultReport.c
	defaultReport.mu.Unlock()
	if c == nil {
		return "", errors.New("no experiment was recorded: nothing to report")
	}
	if parts := os.Getenv(ReportPartsEnv); dir == "" && parts != "" {
		return savePart(parts)
	}
	if dir == "" {
		var err error
		if dir, err = ReportDir(); err != nil {
			return "", err
		}
	}
	if err := c.Save(dir); err != nil {
		return "", err
	}
	run, hs, err := report.Load(dir)
	if err != nil {
		return "", err
	}
	if err := report.Render(dir, run, hs); err != nil {
		return "", err
	}
	return dir, nil
}

// ReportDir is where a package's report goes: $FAULTLINE_REPORT_DIR, else
// reports/<UTC time> in the module the test runs in (its go.mod's directory, found
// upwards from the working directory, which go test sets to the package's), with
// reports/latest pointing at it.
func ReportDir() (string, error) {
	if d := os.Getenv(ReportDirEnv); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("report dir: %w", err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", fmt.Errorf("report dir: %w: set %s to the directory the report goes to", err, ReportDirEnv)
	}
	out := filepath.Join(root, "reports")
	stamp := defaultReport.started.UTC().Format("20060102T150405Z")
	dir := filepath.Join(out, stamp)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report dir: %w", err)
	}
	tmp := filepath.Join(out, ".latest-"+stamp)
	_ = os.Remove(tmp)
	if err := os.Symlink(stamp, tmp); err == nil {
		if err := os.Rename(tmp, filepath.Join(out, "latest")); err != nil {
			_ = os.Remove(tmp)
		}
	}
	return dir, nil
}

// moduleRoot is the directory of the go.mod at or above dir.
func moduleRoot(dir string) (string, error) {
	root := dir
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		root = parent
	}
}

// PartDir is the directory below parts that the test binary running in dir (a
// package's directory) saves its experiments into: dir's path made one name, so that
// packages never share one.
func PartDir(parts, dir string) string {
	name := strings.Trim(partRE.ReplaceAllString(filepath.ToSlash(dir), "_"), "_")
	return filepath.Join(parts, name)
}

var partRE = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// savePart saves what was recorded, unrendered, into this binary's part of parts.
func savePart(parts string) (string, error) {
	defaultReport.mu.Lock()
	c := defaultReport.c
	defaultReport.mu.Unlock()
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("report part: %w", err)
	}
	dir := PartDir(parts, wd)
	if err := c.Save(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Main runs a package's tests and then writes the report of its experiments, for plain
// go test: func TestMain(m *testing.M) { os.Exit(experiment.Main(m)) }. It returns the
// tests' exit code, or 1 when they passed but the report could not be written.
func Main(m *testing.M) int {
	code := m.Run()
	if Recorded() == 0 {
		return code
	}
	dir, err := WriteReport("")
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline: the experiments' report: %v\n", err)
		if code == 0 {
			code = 1
		}
		return code
	}
	if os.Getenv(ReportPartsEnv) != "" {
		fmt.Fprintf(os.Stderr, "faultline: %d experiment(s) saved in %s\n", Recorded(), dir)
		return code
	}
	fmt.Fprintf(os.Stderr, "faultline: report of %d experiment(s) in %s\n", Recorded(), filepath.Join(dir, report.HTMLFile))
	return code
}

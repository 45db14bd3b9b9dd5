package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Collector gathers a run's scenarios and histories as the suites run, and saves them
// to a directory: scenarios.json plus one history-<name>.jsonl per history.
type Collector struct {
	mu        sync.Mutex
	run       Run
	histories map[string]*history.History
}

// NewCollector starts collecting a run.
func NewCollector(run Run) *Collector {
	run.SchemaVersion = SchemaVersion
	return &Collector{run: run, histories: map[string]*history.History{}}
}

// AddHistory names a history that scenarios' windows refer to.
func (c *Collector) AddHistory(name string, h *history.History) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.histories[name] = h
	if !slices.Contains(c.run.Runtimes, name) {
		c.run.Runtimes = append(c.run.Runtimes, name)
	}
}

// AddNamedHistory names a history that scenarios' windows refer to, under a name of
// its own (one per experiment, say) rather than its runtime's: the run's runtimes are
// then those of the scenarios added.
func (c *Collector) AddNamedHistory(name string, h *history.History) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.histories[name] = h
}

// Add records one scenario's outcome, and its backend among the run's runtimes.
func (c *Collector) Add(s Scenario) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run.Scenarios = append(c.run.Scenarios, s)
	if s.Backend != "" && !slices.Contains(c.run.Runtimes, s.Backend) {
		c.run.Runtimes = append(c.run.Runtimes, s.Backend)
	}
}

// Run returns what was collected so far.
func (c *Collector) Run() Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.run
	r.Scenarios = slices.Clone(r.Scenarios)
	return r
}

// Save writes scenarios.json and the histories into dir.
func (c *Collector) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save report data: %w", err)
	}
	c.mu.Lock()
	hs := map[string]*history.History{}
	for k, v := range c.histories {
		hs[k] = v
	}
	c.mu.Unlock()
	for name, h := range hs {
		if err := SaveHistory(filepath.Join(dir, HistoryFile(name)), h); err != nil {
			return err
		}
	}
	run, err := SaveArtifacts(dir, c.Run())
	if err != nil {
		return err
	}
	if run.Duration == 0 && !run.StartedAt.IsZero() {
		run.Duration = time.Since(run.StartedAt)
	}
	return SaveRun(dir, run)
}

// SaveRun writes a run's scenarios.json into dir, as Collector.Save does; the CLI
// uses it to add what only it knows (versions) before rendering.
func SaveRun(dir string, run Run) error {
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return fmt.Errorf("save report data: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ScenariosFile), b, 0o644); err != nil {
		return fmt.Errorf("save report data: %w", err)
	}
	return nil
}

// HistoryFile is the file name a named history is saved under.
func HistoryFile(name string) string { return "history-" + name + ".jsonl" }

// record is one line of a saved history: an operation or an event.
type record struct {
	Op    *history.Op    `json:"op,omitempty"`
	Event *history.Event `json:"event,omitempty"`
}

// savedRecord is a line as LoadHistory reads it: an operation may be one of an older
// run, saved before operations had outcomes, with the HTTP status instead.
type savedRecord struct {
	Op    *savedOp       `json:"op,omitempty"`
	Event *history.Event `json:"event,omitempty"`
}

type savedOp struct {
	history.Op
	// Status is what histories saved before outcomes hold: the HTTP status, 0 when no
	// answer came.
	Status int `json:"status"`
}

// op is the operation, with the outcome and class of an older run's line read from
// its status and error as its HTTP load then judged them: served when answered below
// 500 other than 429; 429 shed (failed); a 5xx or no answer unknown; classes "429",
// "5xx:503", "4xx:409" or the error's (history.ErrorClass), as its report showed them.
func (o savedOp) op() history.Op {
	op := o.Op
	if op.Outcome != "" {
		return op
	}
	switch {
	case op.Err != "" || o.Status <= 0:
		op.Outcome, op.Class = history.Unknown, history.ErrorClass(op.Err)
	case o.Status == 429:
		op.Outcome, op.Class = history.Failed, "429"
	case o.Status >= 500:
		op.Outcome, op.Class = history.Unknown, "5xx:"+strconv.Itoa(o.Status)
	case o.Status >= 400:
		op.Outcome, op.Class = history.OK, "4xx:"+strconv.Itoa(o.Status)
	default:
		op.Outcome = history.OK
	}
	return op
}

// SaveHistory writes a history as JSON lines: one operation or event per line.
func SaveHistory(path string, h *history.History) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, e := range h.Events() {
		if err := enc.Encode(record{Event: &e}); err != nil {
			f.Close()
			return fmt.Errorf("save history %s: %w", path, err)
		}
	}
	for _, op := range h.Ops() {
		if err := enc.Encode(record{Op: &op}); err != nil {
			f.Close()
			return fmt.Errorf("save history %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("save history %s: %w", path, err)
	}
	return f.Close()
}

// LoadHistory reads a history saved by SaveHistory, for checking or rendering again;
// it also reads the histories of older runs, whose operations carry an HTTP status
// instead of an outcome (see docs/report-schema.md).
func LoadHistory(path string) (*history.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	defer f.Close()
	h := history.New()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r savedRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("load history %s: line %d: %w", path, n, err)
		}
		switch {
		case r.Op != nil:
			h.Add(r.Op.op())
		case r.Event != nil:
			h.Record(*r.Event)
		default:
			return nil, fmt.Errorf("load history %s: line %d holds neither an op nor an event", path, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load history %s: %w", path, err)
	}
	return h, nil
}

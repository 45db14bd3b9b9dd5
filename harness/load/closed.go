package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// OpFunc runs one operation and fills in what it did: its route, status or error, and
// for model checkers its input and output. The runner stamps the times.
type OpFunc func(ctx context.Context, worker int, rng *rand.Rand) history.Op

// Closed is a closed-model load: Workers workers, each running one operation after the
// other until Duration elapses or MaxOps operations have run.
type Closed struct {
	// Name names the load.
	Name string
	// Workers is the number of concurrent workers.
	Workers int
	// Duration bounds the load in time.
	Duration time.Duration
	// MaxOps bounds it in count (0: no bound but Duration).
	MaxOps int
	// Op runs one operation.
	Op OpFunc
	// Seed seeds each worker's rand (with the worker's number).
	Seed uint64
	// Think is a pause between one worker's operations (default none).
	Think time.Duration
}

// StartClosed starts a closed-model load in the background, recording each operation.
func StartClosed(ctx context.Context, h *history.History, c Closed) (*Run, error) {
	if c.Workers <= 0 || c.Workers > MaxWorkers {
		return nil, fmt.Errorf("load %q: workers %d is out of range: give 1 to %d", c.Name, c.Workers, MaxWorkers)
	}
	if err := checkDuration(fmt.Sprintf("load %q: duration", c.Name), c.Duration); err != nil {
		return nil, err
	}
	if c.MaxOps < 0 {
		return nil, fmt.Errorf("load %q: max ops %d is negative: use 0 for no bound but the duration", c.Name, c.MaxOps)
	}
	if c.Op == nil {
		return nil, fmt.Errorf("load %q: op is nil: give the function that runs one operation", c.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	run := &Run{done: make(chan struct{}), stop: cancel}
	var issued, sent, ok atomic.Int64
	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.Seed, uint64(w)))
			for ctx.Err() == nil {
				if c.MaxOps > 0 && issued.Add(1) > int64(c.MaxOps) {
					return
				}
				start := time.Now()
				op := c.Op(ctx, w, rng)
				end := time.Now()
				op.Intended, op.Start, op.End = h.Since(start), h.Since(start), h.Since(end)
				h.Add(op)
				sent.Add(1)
				if op.Status >= 200 && op.Status < 300 {
					ok.Add(1)
				}
				if c.Think > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(c.Think):
					}
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		run.mu.Lock()
		run.summary = Summary{Sent: int(sent.Load()), OK: int(ok.Load()), Elapsed: time.Since(began)}
		run.mu.Unlock()
		close(run.done)
	}()
	return run, nil
}

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

// Closed is a closed-model load: Workers workers, each running one operation after the
// other until Duration elapses or MaxOps operations have run. Each operation's intended
// start is its actual start: a worker waits for its previous operation, as a client
// that holds one connection does.
type Closed struct {
	// Name names the load.
	Name string
	// Workers is the number of concurrent workers.
	Workers int
	// Duration bounds the load in time; operations in flight at its end are cut short
	// and recorded as cancelled.
	Duration time.Duration
	// MaxOps bounds it in count (0: no bound but Duration).
	MaxOps int
	// Op runs one operation. Give Op or Ops, not both.
	Op OpFunc
	// Ops is a mix of operations, each drawn by weight from the worker's seeded rand.
	Ops []Operation
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
	ops := c.Ops
	switch {
	case c.Op == nil && len(c.Ops) == 0:
		return nil, fmt.Errorf("load %q: op is nil: give the function that runs one operation", c.Name)
	case c.Op != nil && len(c.Ops) > 0:
		return nil, fmt.Errorf("load %q: both op and ops are set: give one", c.Name)
	case c.Op != nil:
		ops = []Operation{{Do: c.Op}}
	}
	m, err := newMix(c.Name, ops)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	rec := newRecorder(h, ctx)
	stop := func() { rec.markStop(); cancel() }
	run := &Run{done: make(chan struct{}), stop: stop}
	ends := time.AfterFunc(c.Duration, stop)
	var issued atomic.Int64
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
				kind := m.pick(rng)
				start := time.Now()
				op := rec.do(ctx, kind, w, rng)
				rec.record(op, kind.Route, start, start, time.Now(), ctx)
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
		ends.Stop()
		run.mu.Lock()
		run.summary = rec.summary(time.Since(began))
		run.err = rec.err(c.Name)
		run.mu.Unlock()
		cancel()
		close(run.done)
	}()
	return run, nil
}

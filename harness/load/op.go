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

// OpFunc runs one operation of any kind (an HTTP call, a publish and its ack, an SQL
// transaction, a KV read) and returns its record: its Route, how it ended (Outcome,
// Class, Err), the instance that served it when the client knows (ServedBy), and for
// model checkers its Input and Output. The runner stamps the times; n is the worker
// (closed model) or the operation's sequence number (open model), and rng is seeded
// from the load's seed, so that a seed replays the same draws.
//
// An Op returned without an Outcome is settled from Err: none is ok, any is unknown
// (an error alone does not say whether the operation took effect; set history.Failed
// when it definitely did not). An operation that did not end ok after the run's own
// stop cut it short (Stop, the end of a closed load's duration, the load's context)
// is recorded as history.Cancelled, which no checker counts as a failure; one that did
// not end ok after its own timeout is unknown, of class "timeout".
type OpFunc func(ctx context.Context, n int, rng *rand.Rand) history.Op

// Operation is one kind of operation in a load's mix.
type Operation struct {
	// Route names the operation in the history and the report; it is set on every
	// operation Do returns without a route of its own.
	Route string
	// Weight is the kind's share of the mix (default 1).
	Weight int
	// Do runs one operation.
	Do OpFunc
}

// mix draws operations by weight from a seeded rand.
type mix struct {
	ops   []Operation
	total int
}

func newMix(name string, ops []Operation) (mix, error) {
	if len(ops) == 0 {
		return mix{}, fmt.Errorf("load %q: ops is empty: give at least one Operation", name)
	}
	m := mix{ops: ops}
	for i, o := range ops {
		if o.Weight < 0 {
			return mix{}, fmt.Errorf("load %q: ops[%d].weight %d is negative: use 0 or more", name, i, o.Weight)
		}
		if o.Do == nil {
			return mix{}, fmt.Errorf("load %q: ops[%d].do is nil: give the function that runs one operation", name, i)
		}
		m.total += weight(o.Weight)
	}
	return m, nil
}

func weight(w int) int {
	if w == 0 {
		return 1
	}
	return w
}

func (m mix) pick(rng *rand.Rand) Operation {
	if len(m.ops) == 1 {
		return m.ops[0]
	}
	p := rng.IntN(m.total)
	for _, o := range m.ops {
		if p < weight(o.Weight) {
			return o
		}
		p -= weight(o.Weight)
	}
	return m.ops[len(m.ops)-1]
}

// Run is a load in flight.
type Run struct {
	done    chan struct{}
	stop    func()
	mu      sync.Mutex
	summary Summary
	err     error
}

// Summary counts what a load sent, by outcome.
type Summary struct {
	// Sent is the number of operations recorded, cancelled ones included.
	Sent int
	// OK is the number served (history.OK); Failed, Unknown and Cancelled count the
	// others by outcome.
	OK, Failed, Unknown, Cancelled int
	// Elapsed is the load's wall time.
	Elapsed time.Duration
}

// Wait blocks until the load ends (its duration elapsed, Stop, or ctx ended) and returns
// its summary.
func (r *Run) Wait() (Summary, error) {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summary, r.err
}

// Stop ends the load early; Wait still returns what was recorded. Operations in flight
// are cut short and recorded as cancelled, never as failed.
func (r *Run) Stop() { r.stop() }

// Done is closed when the load has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// recorder settles and records a load's operations and counts them.
type recorder struct {
	h *history.History
	// panics counts the operations whose function panicked; firstPanic is the first.
	panics     atomic.Int64
	firstPanic atomic.Pointer[string]
	// run is the load's context: done once the run's own stop began.
	run context.Context
	// stoppedAt is when the run's own stop began, on the run's clock; -1 until then.
	stoppedAt atomic.Int64
	mu        sync.Mutex
	sum       Summary
}

// newRecorder records into h for a run under ctx. Stop and a load's own end call
// markStop before they cancel ctx, so that the stop's time is known when the
// operations it cuts short return; a parent context's end is marked as it is seen.
func newRecorder(h *history.History, ctx context.Context) *recorder {
	r := &recorder{h: h, run: ctx}
	r.stoppedAt.Store(-1)
	context.AfterFunc(ctx, r.markStop)
	return r
}

// do runs one operation of kind. A function that panics does not take the process (and
// the cleanups of the run it belongs to) down with it: its operation is recorded as
// failed, class "panic", and the load's Wait says so.
func (r *recorder) do(ctx context.Context, kind Operation, n int, rng *rand.Rand) (op history.Op) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("operation %s panicked: %v", kind.Route, p)
			r.panics.Add(1)
			r.firstPanic.CompareAndSwap(nil, &msg)
			op = history.Op{Outcome: history.Failed, Class: "panic", Err: msg}
		}
	}()
	return kind.Do(ctx, n, rng)
}

// err is what Wait reports of the run's operations themselves: the panics, if any.
func (r *recorder) err(name string) error {
	n := r.panics.Load()
	if n == 0 {
		return nil
	}
	return fmt.Errorf("load %s: %d operation(s) panicked, each recorded as failed (class panic); the first: %s", name, n, *r.firstPanic.Load())
}

func (r *recorder) markStop() { r.stoppedAt.CompareAndSwap(-1, int64(r.h.Now())) }

// stopped tells whether the run's own stop began before an operation ended at end.
func (r *recorder) stopped(end time.Duration) bool {
	if at := r.stoppedAt.Load(); at >= 0 {
		return time.Duration(at) <= end
	}
	return r.run.Err() != nil // its end is being marked right now
}

// record stamps op's times, settles its outcome and adds it to the history. opCtx is
// the context the operation ran under.
func (r *recorder) record(op history.Op, route string, intended, start, end time.Time, opCtx context.Context) {
	op.Intended, op.Start, op.End = r.h.Since(intended), r.h.Since(start), r.h.Since(end)
	if op.Route == "" {
		op.Route = route
	}
	if op.Outcome == "" {
		op.Outcome = history.OK
		if op.Err != "" {
			op.Outcome = history.Unknown
		}
	}
	if op.Outcome != history.OK {
		timedOut := opCtx.Err() == context.DeadlineExceeded && r.run.Err() == nil
		if r.stopped(op.End) {
			op.Outcome = history.Cancelled
		}
		if op.Class == "" {
			switch {
			case timedOut:
				op.Class = "timeout"
			case op.Err != "":
				op.Class = history.ErrorClass(op.Err)
			}
		}
	}
	r.h.Add(op)
	r.mu.Lock()
	r.sum.Sent++
	switch op.Outcome {
	case history.OK:
		r.sum.OK++
	case history.Failed:
		r.sum.Failed++
	case history.Cancelled:
		r.sum.Cancelled++
	default:
		r.sum.Unknown++
	}
	r.mu.Unlock()
}

func (r *recorder) summary(elapsed time.Duration) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Elapsed = elapsed
	return s
}

// OpenOps is an open-model load of operation functions: operations arrive at a fixed
// rate for a fixed time, each started at its intended time whatever the previous ones
// did (a slow operation cannot hide the ones it would have delayed: no coordinated
// omission), and each operation's latency is measured from its intended start.
type OpenOps struct {
	// Name names the load.
	Name string
	// Rate is the arrival rate in operations per second.
	Rate int
	// Duration is how long operations keep arriving; those in flight at its end finish.
	Duration time.Duration
	// Ops is the mix; each operation draws its kind from the seeded rand by weight.
	Ops []Operation
	// Timeout bounds each operation through its context (default 5 s).
	Timeout time.Duration
	// Seed drives the mix and each operation's rand (the run's seed).
	Seed uint64
}

// StartOpenOps starts an open-model load of operation functions in the background,
// recording each operation in h.
func StartOpenOps(ctx context.Context, h *history.History, o OpenOps) (*Run, error) {
	if o.Rate <= 0 || o.Rate > MaxRate {
		return nil, fmt.Errorf("load %q: rate %d is out of range: give 1 to %d operations per second", o.Name, o.Rate, MaxRate)
	}
	if err := checkDuration(fmt.Sprintf("load %q: duration", o.Name), o.Duration); err != nil {
		return nil, err
	}
	m, err := newMix(o.Name, o.Ops)
	if err != nil {
		return nil, err
	}
	return startOpen(ctx, h, o, m, nil), nil
}

// RunOpenOps runs an open-model load of operation functions to its end.
func RunOpenOps(ctx context.Context, h *history.History, o OpenOps) (Summary, error) {
	run, err := StartOpenOps(ctx, h, o)
	if err != nil {
		return Summary{}, err
	}
	return run.Wait()
}

// startOpen paces o's operations; after runs once the load has ended.
func startOpen(ctx context.Context, h *history.History, o OpenOps, m mix, after func()) *Run {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	rec := newRecorder(h, ctx)
	run := &Run{done: make(chan struct{}), stop: func() { rec.markStop(); cancel() }}
	interval := time.Second / time.Duration(o.Rate)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6f6164))
	slots := make(chan struct{}, MaxWorkers)
	began := time.Now()
	go func() {
		var wg sync.WaitGroup
		defer func() {
			wg.Wait()
			if after != nil {
				after()
			}
			run.mu.Lock()
			run.summary = rec.summary(time.Since(began))
			run.err = rec.err(o.Name)
			run.mu.Unlock()
			cancel()
			close(run.done)
		}()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		for seq := 0; time.Duration(seq)*interval < o.Duration; seq++ {
			at := began.Add(time.Duration(seq) * interval)
			if wait := time.Until(at); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
			if ctx.Err() != nil {
				return
			}
			kind, opSeed := m.pick(rng), rng.Uint64()
			select {
			case <-ctx.Done():
				return
			case slots <- struct{}{}: // at most MaxWorkers in flight; a late one keeps its intended time
			}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				opCtx, cancelOp := context.WithTimeout(ctx, o.Timeout)
				defer cancelOp()
				start := time.Now()
				op := rec.do(opCtx, kind, seq, rand.New(rand.NewPCG(o.Seed, opSeed)))
				rec.record(op, kind.Route, at, start, time.Now(), opCtx)
			}()
		}
	}()
	return run
}

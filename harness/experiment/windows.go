package experiment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
)

// Windows says when the load counts as steady: N consecutive windows of Width, each with
// traffic, in which at least SLO of the operations (of Routes, every route when empty)
// ended ok. Within bounds the wait.
type Windows struct {
	Width  time.Duration // default 1 s
	N      int           // default 3
	SLO    float64       // default 0.99
	Routes []string
	Within time.Duration // default 30 s
}

func (w Windows) withDefaults() Windows {
	if w.Width <= 0 {
		w.Width = time.Second
	}
	if w.N <= 0 {
		w.N = 3
	}
	if w.SLO <= 0 {
		w.SLO = 0.99
	}
	if w.Within <= 0 {
		w.Within = 30 * time.Second
	}
	return w
}

// String reads "3 windows of 1s at ≥ 99% ok".
func (w Windows) String() string {
	return fmt.Sprintf("%d windows of %s at ≥ %.4g%% ok", w.N, w.Width, w.SLO*100)
}

// held reports whether the N windows before end (on h's clock), none before from, each
// had traffic and met the SLO. Windows are placed by each operation's intended start.
func (w Windows) held(h *history.History, from, end time.Duration) bool {
	if end-time.Duration(w.N)*w.Width < from {
		return false
	}
	total, ok := make([]int, w.N), make([]int, w.N)
	lo := end - time.Duration(w.N)*w.Width
	for _, op := range check.Select(h, check.Selection{Window: check.Window{From: lo, To: end}, Routes: w.Routes}) {
		if op.Intended < lo || op.Intended >= end || !check.Counted(op) {
			continue
		}
		i := int((op.Intended - lo) / w.Width)
		total[i]++
		if check.OK(op) {
			ok[i]++
		}
	}
	for i := range w.N {
		if total[i] == 0 || float64(ok[i])/float64(total[i]) < w.SLO {
			return false
		}
	}
	return true
}

// settle waits until the windows hold after from, and returns when (on h's clock) the
// first of them began; false when Within passed first. The newest window ends one width
// before now, so that operations still in flight are in the history when it is judged.
func (w Windows) settle(ctx context.Context, h *history.History, from time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(w.Within)
	for {
		end := h.Now() - w.Width
		if w.held(h, from, end) {
			return end - time.Duration(w.N)*w.Width, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, false
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.Width / 4):
		}
	}
}

// HoldSteady waits, before a fault, until the load has been steady for w (N windows
// meeting the SLO): the method begins as soon as the system is, not after a guessed
// sleep. It returns when, on the history's clock, the steady windows began: the start
// of a "before the fault" window that holds only steady traffic. When the load is not
// steady within w.Within the experiment aborts (Fatalf) with nothing injected.
func (e *Experiment) HoldSteady(ctx context.Context, w Windows) time.Duration {
	e.t.Helper()
	w = w.withDefaults()
	at, ok := w.settle(ctx, e.h, e.from)
	if !ok {
		e.mu.Lock()
		e.aborted = fmt.Sprintf("the load was not steady (%s) within %s; nothing was injected", w, w.Within)
		e.mu.Unlock()
		e.t.Fatalf("%s", e.aborted)
	}
	return at
}

// AwaitRecovery observes the system after a fault until it has served again for w (N
// windows meeting the SLO, the first beginning at or after from, a heal's start or an
// injection on the history's clock), or until w.Within: an experiment's wall time then
// follows what the system does. It returns how long after from the steady windows
// began, and false when they did not within the bound; it judges nothing (check.Recover
// over the same span is the check).
func (e *Experiment) AwaitRecovery(ctx context.Context, from time.Duration, w Windows) (time.Duration, bool) {
	w = w.withDefaults()
	at, ok := w.settle(ctx, e.h, from)
	if !ok {
		return 0, false
	}
	return at - from, true
}

// PlayPaced plays a schedule of faults (a seeded nemesis, fault.Catalog.Schedule) paced
// by the system rather than by the clock: each step stays for its For and is healed, as
// Play does, and the next one begins as soon as the load has been steady for w since the
// previous heal's start (or w.Within after it, whichever comes first: a system that does
// not recover still gets every step, and the checks say what that did). The seed still
// draws every step's kind, target and duration; only the gaps, which a fixed schedule
// guesses, follow what the system needed. It returns the gaps it waited (one fewer than
// the steps) and what failed, joined; every step is in the report's faults.
func (e *Experiment) PlayPaced(ctx context.Context, steps fault.Schedule, w Windows) ([]time.Duration, error) {
	if err := steps.Validate(); err != nil {
		return nil, fmt.Errorf("play schedule: %w", err)
	}
	w = w.withDefaults()
	var (
		gaps []time.Duration
		errs []error
	)
	for i, st := range steps {
		applied := len(e.scope.Applied())
		st.At = 0
		if err := e.scope.Play(ctx, fault.Schedule{st}); err != nil {
			errs = append(errs, fmt.Errorf("step %d of %d: %w", i+1, len(steps), err))
		}
		if ctx.Err() != nil || i == len(steps)-1 {
			break
		}
		// From the step's heal start: a step the runtime could not do (skipped) has
		// none, and the next one waits only for the load to be steady from now.
		from := e.h.Now()
		if a := e.scope.Applied(); len(a) > applied {
			if at, ok := a[len(a)-1].HealStartedAt(); ok {
				from = at
			}
		}
		began := time.Now()
		if _, ok := w.settle(ctx, e.h, from); !ok && ctx.Err() == nil {
			e.cfg.Logger.WarnContext(ctx, "nemesis: not steady again before the next step", "step", i+1, "windows", w.String(), "within", w.Within)
		}
		gaps = append(gaps, time.Since(began))
	}
	return gaps, errors.Join(errs...)
}

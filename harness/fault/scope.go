package fault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Defaults of the lifecycle; each can be changed per scope or per Apply.
const (
	// DefaultMaxDuration is how long a fault may stay before it heals by itself.
	DefaultMaxDuration = 5 * time.Minute
	// DefaultVerifyTimeout is how long Apply keeps trying to see a fault act.
	DefaultVerifyTimeout = 5 * time.Second
	// DefaultHealTimeout bounds one heal, whatever the caller's context says.
	DefaultHealTimeout = 30 * time.Second
	// DefaultSeed is the run seed of a scope made without WithSeed.
	DefaultSeed int64 = 1
)

// retryInterval is the pause between two attempts to verify a fault or its heal.
const retryInterval = 100 * time.Millisecond

// Scope owns the faults of one scenario: it applies them through the one lifecycle,
// records every step into the run's history, and heals what is left at the end.
type Scope struct {
	h             *history.History
	log           *slog.Logger
	seed          int64
	maxDuration   time.Duration
	verifyTimeout time.Duration
	healTimeout   time.Duration

	mu     sync.Mutex
	active []*Active
}

// ScopeOption customises a Scope.
type ScopeOption func(*Scope)

// WithSeed sets the run seed that faults drawing random numbers derive theirs from, so
// that a run replays with the same seed.
func WithSeed(seed int64) ScopeOption { return func(s *Scope) { s.seed = seed } }

// WithDefaultMaxDuration changes the maximum duration of every fault the scope applies.
func WithDefaultMaxDuration(d time.Duration) ScopeOption {
	return func(s *Scope) {
		if d > 0 {
			s.maxDuration = d
		}
	}
}

// WithHealTimeout bounds each heal (default DefaultHealTimeout).
func WithHealTimeout(d time.Duration) ScopeOption {
	return func(s *Scope) {
		if d > 0 {
			s.healTimeout = d
		}
	}
}

// NewScope makes a scope that records into h (a fresh history when nil) and logs to
// logger (nowhere when nil).
func NewScope(h *history.History, logger *slog.Logger, opts ...ScopeOption) *Scope {
	if h == nil {
		h = history.New()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Scope{
		h:             h,
		log:           logger.With("component", "fault"),
		seed:          DefaultSeed,
		maxDuration:   DefaultMaxDuration,
		verifyTimeout: DefaultVerifyTimeout,
		healTimeout:   DefaultHealTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ScopeFor makes a scope for a plain go test: it logs to the test's output and heals
// every fault still active when the test ends, failing the test if a heal fails.
func ScopeFor(t testing.TB, h *history.History, opts ...ScopeOption) *Scope {
	t.Helper()
	s := NewScope(h, slog.New(slog.NewTextHandler(t.Output(), nil)), opts...)
	t.Cleanup(func() {
		// t.Context is already cancelled here; HealAll bounds itself.
		if err := s.HealAll(context.Background()); err != nil {
			t.Errorf("heal faults at the end of the test: %v", err)
		}
	})
	return s
}

// History is the history the scope records into.
func (s *Scope) History() *history.History { return s.h }

// Seed is the scope's run seed.
func (s *Scope) Seed() int64 { return s.seed }

// ApplyOption customises one Apply.
type ApplyOption func(*applyConfig)

type applyConfig struct {
	maxDuration   time.Duration
	verifyTimeout time.Duration
	err           error // a bad option, refused before anything happens
}

// WithMaxDuration makes the fault heal by itself after d (recording FaultExpired), so a
// scenario that forgets it cannot leave it on for the rest of the run.
func WithMaxDuration(d time.Duration) ApplyOption {
	return func(c *applyConfig) {
		if d <= 0 {
			c.err = badParam("apply", "WithMaxDuration", d, "give a duration > 0, e.g. 30*time.Second: how long the fault may stay before it heals by itself")
			return
		}
		c.maxDuration = d
	}
}

// WithVerifyTimeout changes how long Apply keeps trying to see the fault act.
func WithVerifyTimeout(d time.Duration) ApplyOption {
	return func(c *applyConfig) {
		if d <= 0 {
			c.err = badParam("apply", "WithVerifyTimeout", d, "give a duration > 0, e.g. 5*time.Second: how long Apply tries to see the fault act")
			return
		}
		c.verifyTimeout = d
	}
}

// Apply runs a fault's lifecycle up to the point where it acts: it checks the
// parameters, records FaultInject, registers the heal with the scope, injects, and
// verifies (retrying briefly) that the fault took effect, recording FaultVerified. It
// then arms a timer that heals the fault at its maximum duration.
//
// When any step fails, the fault is healed before Apply returns, FaultError is recorded
// and the error says which step failed; an unseen fault fails with ErrNotEffective. The
// returned *Active is non-nil whenever something was injected, even on error.
func (s *Scope) Apply(ctx context.Context, f Fault, opts ...ApplyOption) (*Active, error) {
	if f == nil {
		return nil, errors.New("apply fault: the fault is nil: pass a constructor's result, e.g. fault.Latency(link, d)")
	}
	cfg := applyConfig{maxDuration: s.maxDuration, verifyTimeout: s.verifyTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	a := &Active{scope: s, fault: f, name: f.String(), healed: make(chan struct{})}
	if t, ok := f.(Targeter); ok {
		a.target = t.Target()
	}
	if cfg.err != nil {
		err := fmt.Errorf("apply %s: %w", a.name, cfg.err)
		s.record(a, history.FaultError, "invalid option; nothing injected", err)
		return nil, err
	}
	if v, ok := f.(Validator); ok {
		if err := v.Validate(); err != nil {
			err = fmt.Errorf("apply %s: %w", a.name, err)
			s.record(a, history.FaultError, "invalid parameters; nothing injected", err)
			return nil, err
		}
	}
	s.mu.Lock()
	if rs, ok := f.(runSeeded); ok {
		rs.seedFromRun(s.seed + int64(len(s.active)))
	}
	// Registered before Inject: whatever happens next, HealAll heals it.
	s.active = append(s.active, a)
	s.mu.Unlock()

	a.injectedAt = s.h.Now()
	s.h.Record(history.Event{At: a.injectedAt, Kind: history.FaultInject, Fault: a.name, Target: a.target})
	s.log.InfoContext(ctx, "fault injecting", "fault", a.name, "target", a.target)
	if err := f.Inject(ctx); err != nil {
		err = fmt.Errorf("inject %s: %w", a.name, err)
		s.record(a, history.FaultError, "inject failed; healing what was done", err)
		return a, errors.Join(err, a.Heal(ctx))
	}

	if v, ok := f.(Verifier); ok {
		n, err := retry(ctx, cfg.verifyTimeout, v.Verify)
		if err != nil {
			err = fmt.Errorf("%w: %s: after %d checks in %v: %w", ErrNotEffective, a.name, n, cfg.verifyTimeout, err)
			s.record(a, history.FaultError, "not seen to take effect; healing", err)
			return a, errors.Join(err, a.Heal(ctx))
		}
		s.record(a, history.FaultVerified, fmt.Sprintf("seen acting after %d check(s)", n), nil)
	} else {
		s.record(a, history.FaultVerified, "this kind cannot be verified; the inject call's success is the only proof", nil)
	}

	a.mu.Lock()
	a.timer = time.AfterFunc(cfg.maxDuration, a.expire)
	a.mu.Unlock()
	return a, nil
}

// HealAll heals every fault of the scope that has not been healed yet, the most recent
// first, and returns every heal's error. It is the scenario's rollback:
// Ginkgo's DeferCleanup(sc.HealAll) or ScopeFor's t.Cleanup.
func (s *Scope) HealAll(ctx context.Context) error {
	s.mu.Lock()
	active := slices.Clone(s.active)
	s.mu.Unlock()
	var errs []error
	for _, a := range slices.Backward(active) {
		if a.healStarted() {
			<-a.Healed() // a heal already under way (the timer's, say): wait for it
			continue
		}
		errs = append(errs, a.Heal(ctx))
	}
	return errors.Join(errs...)
}

// Applied returns every fault applied in this scope, healed or not, oldest first: what
// a report lists (a schedule's steps among them).
func (s *Scope) Applied() []*Active {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.active)
}

// Active returns the faults applied in this scope that are not healed yet, oldest first.
func (s *Scope) Active() []*Active {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Active
	for _, a := range s.active {
		if !a.healStarted() {
			out = append(out, a)
		}
	}
	return out
}

// record writes one event of a's lifecycle into the history and the log.
func (s *Scope) record(a *Active, kind history.EventKind, detail string, err error) {
	e := history.Event{Kind: kind, Fault: a.name, Target: a.target, Detail: detail}
	if err != nil {
		e.Err = err.Error()
		s.log.Error("fault "+string(kind), "fault", a.name, "target", a.target, "detail", detail, "err", err)
	} else {
		s.log.Info("fault "+string(kind), "fault", a.name, "target", a.target, "detail", detail)
	}
	s.h.Record(e)
}

// retry calls check until it returns nil or timeout passes, and returns how many calls
// it made and the last error that was not the deadline itself.
func retry(ctx context.Context, timeout time.Duration, check func(context.Context) error) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for n := 1; ; n++ {
		err := check(ctx)
		if err == nil {
			return n, nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return n, last
		case <-time.After(retryInterval):
		}
	}
}

package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/runtime"
)

// RestartPolicy says what the supervisor does when an instance exits. The zero value is
// OnFailure: a watched instance is restarted unless the policy says otherwise.
type RestartPolicy int

const (
	// OnFailure restarts an instance whenever it exits without being held: the runtime
	// reports no exit codes, so any exit nobody asked for is a failure.
	OnFailure RestartPolicy = iota
	// Never only records the exit.
	Never
)

// String is "on-failure" or "never".
func (p RestartPolicy) String() string {
	switch p {
	case OnFailure:
		return "on-failure"
	case Never:
		return "never"
	default:
		return fmt.Sprintf("RestartPolicy(%d)", int(p))
	}
}

// Defaults of a Policy's zero fields and of a Supervisor's options.
const (
	DefaultBackoff      = 200 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
	DefaultStableAfter  = 10 * time.Second
	DefaultPollInterval = 150 * time.Millisecond
	DefaultStartTimeout = 60 * time.Second
)

// Policy is how one instance is supervised. Its zero value restarts on failure with the
// default backoff and no limit.
type Policy struct {
	// Restart says whether exited instances are restarted.
	Restart RestartPolicy
	// Backoff is the wait before the first restart (default 200 ms); it doubles with each
	// exit that follows a restart within StableAfter, up to MaxBackoff.
	Backoff time.Duration
	// MaxBackoff caps the wait (default 5 s).
	MaxBackoff time.Duration
	// StableAfter is how long an instance must stay up for the backoff to start again
	// from Backoff (default 10 s).
	StableAfter time.Duration
	// MaxRestarts is how many restarts the supervisor makes before it gives up on the
	// instance (recording GiveUp); 0 means no limit.
	MaxRestarts int
}

func (p Policy) withDefaults() Policy {
	if p.Backoff <= 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.MaxBackoff < p.Backoff {
		p.MaxBackoff = p.Backoff
	}
	if p.StableAfter <= 0 {
		p.StableAfter = DefaultStableAfter
	}
	return p
}

// backoff is the wait after n quick failures in a row.
func (p Policy) backoff(n int) time.Duration {
	d := p.Backoff
	for range n {
		if d >= p.MaxBackoff/2 {
			return p.MaxBackoff
		}
		d *= 2
	}
	return d
}

// RestartRecord is one restart the supervisor made, on the history's clock.
type RestartRecord struct {
	// Name is the instance's name.
	Name string
	// ExitedAt is when the supervisor first saw the instance exited (within one poll
	// interval of the exit itself).
	ExitedAt time.Duration
	// RestartedAt is when the instance was ready again.
	RestartedAt time.Duration
	// Attempts is how many starts it took.
	Attempts int
}

// Downtime is how long the instance was down, as the supervisor saw it.
func (r RestartRecord) Downtime() time.Duration { return r.RestartedAt - r.ExitedAt }

// Option customises a Supervisor.
type Option func(*Supervisor)

// WithPollInterval sets how often each instance's state is read (default 150 ms).
func WithPollInterval(d time.Duration) Option {
	return func(s *Supervisor) {
		if d > 0 {
			s.poll = d
		}
	}
}

// WithStartTimeout bounds one restart, readiness included (default 60 s).
func WithStartTimeout(d time.Duration) Option {
	return func(s *Supervisor) {
		if d > 0 {
			s.startTimeout = d
		}
	}
}

// Supervisor watches instances and restarts those that exit. Make one with New; it is
// safe for concurrent use.
type Supervisor struct {
	h            *history.History
	log          *slog.Logger
	poll         time.Duration
	startTimeout time.Duration
	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	watches  map[string]*watch
	held     map[string]int
	restarts []RestartRecord
}

// watch is one watched instance.
type watch struct {
	inst   runtime.Instance
	policy Policy
	stop   chan struct{}
	// op is held while the supervisor decides on and runs a restart, so that Hold can
	// wait for one under way.
	op sync.Mutex
}

// New makes a supervisor that records into h (a fresh history when nil) and logs to
// logger (nowhere when nil). Close it when the run ends.
func New(h *history.History, logger *slog.Logger, opts ...Option) *Supervisor {
	if h == nil {
		h = history.New()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{
		h:            h,
		log:          logger.With("component", "supervisor"),
		poll:         DefaultPollInterval,
		startTimeout: DefaultStartTimeout,
		ctx:          ctx,
		cancel:       cancel,
		watches:      map[string]*watch{},
		held:         map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Watch starts supervising inst under policy. Watching a name again replaces its
// policy; watching after Close does nothing.
func (s *Supervisor) Watch(inst runtime.Instance, policy Policy) {
	w := &watch{inst: inst, policy: policy.withDefaults(), stop: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.log.Warn("watch after close ignored", "instance", inst.Name())
		return
	}
	if old, ok := s.watches[inst.Name()]; ok {
		close(old.stop)
	}
	s.watches[inst.Name()] = w
	s.wg.Add(1)
	go s.loop(w)
	s.log.Info("watching", "instance", inst.Name(), "restart", w.policy.Restart, "backoff", w.policy.Backoff,
		"max_backoff", w.policy.MaxBackoff, "max_restarts", w.policy.MaxRestarts)
}

// Unwatch stops supervising the named instance; a restart under way finishes first.
func (s *Supervisor) Unwatch(name string) {
	s.mu.Lock()
	w, ok := s.watches[name]
	if ok {
		delete(s.watches, name)
		close(w.stop)
	}
	s.mu.Unlock()
	if ok {
		w.op.Lock()
		// Nothing to do inside: taking the lock waits for a restart under way.
		w.op.Unlock()
	}
}

// Hold keeps the named instance down on purpose: while it is held, the supervisor
// records its exit but does not restart it. Hold returns once any restart under way has
// finished, so that after it nobody but the caller starts the instance. Holds nest: each
// needs its Release.
func (s *Supervisor) Hold(name string) {
	s.mu.Lock()
	s.held[name]++
	w := s.watches[name]
	s.mu.Unlock()
	if w != nil {
		w.op.Lock()
		// Nothing to do inside: taking the lock waits for a restart under way.
		w.op.Unlock()
	}
	s.log.Info("held", "instance", name)
}

// Release undoes one Hold. If the instance is still down when the last hold goes, the
// supervisor restarts it under its policy.
func (s *Supervisor) Release(name string) {
	s.mu.Lock()
	if s.held[name] > 1 {
		s.held[name]--
	} else {
		delete(s.held, name)
	}
	s.mu.Unlock()
	s.log.Info("released", "instance", name)
}

// Held reports whether the named instance is held.
func (s *Supervisor) Held(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[name] > 0
}

// Restarts returns the restarts made so far, in order.
func (s *Supervisor) Restarts() []RestartRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.restarts)
}

// Close stops watching every instance and waits for the watchers to end; a restart
// under way is cancelled. No restart happens after Close returns. It is safe to call
// more than once.
func (s *Supervisor) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// loop polls one instance until Close, Unwatch, removal or give-up.
func (s *Supervisor) loop(w *watch) {
	defer s.wg.Done()
	name := w.inst.Name()
	log := s.log.With("instance", name)
	ticker := time.NewTicker(s.poll)
	defer ticker.Stop()
	var (
		down      bool          // seen exited and not seen up since
		exitedAt  time.Duration // when it was first seen exited
		upSince   time.Duration // when the supervisor last started it
		quick     int           // exits in a row that came soon after a restart
		attempts  int           // starts tried in this outage
		restarts  int           // restarts made under this watch
		nextStart time.Duration // earliest restart, on the history clock
		heldDown  bool          // it was held when seen exited
	)
	// A platform that brings the instance back by itself (a pod's controller) makes the
	// restarts: the supervisor records them and never starts the instance itself.
	_, selfHealing := runtime.AsSelfHealing(w.inst)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-w.stop:
			return
		case <-ticker.C:
		}
		st, err := w.inst.State(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil {
				log.Warn("read state", "err", err)
			}
			continue
		}
		now := s.h.Now()
		switch st {
		case runtime.StateRunning, runtime.StatePaused: // paused is frozen, not failed
			if down && selfHealing && !heldDown {
				upSince, down = now, false
				restarts++
				rec := RestartRecord{Name: name, ExitedAt: exitedAt, RestartedAt: now, Attempts: 1}
				s.record(history.Event{At: now, Kind: history.Restart, Target: name,
					Detail: fmt.Sprintf("brought back by the platform after %v down (restart %d)", rec.Downtime().Round(time.Millisecond), restarts)})
				s.mu.Lock()
				s.restarts = append(s.restarts, rec)
				s.mu.Unlock()
				continue
			}
			if down {
				log.Info("instance is up again, started by someone else", "state", st)
				down = false
			}
			continue
		case runtime.StateRemoved:
			log.Info("instance removed; no longer watching")
			return
		case runtime.StateExited:
		default:
			log.Warn("unknown state", "state", st)
			continue
		}

		held := s.Held(name)
		if !down {
			down, exitedAt, attempts, heldDown = true, now, 0, held
			if upSince != 0 && now-upSince < w.policy.StableAfter {
				quick++
			} else {
				quick = 0
			}
			nextStart = now + w.policy.backoff(quick)
			detail := fmt.Sprintf("exited; policy %s", w.policy.Restart)
			switch {
			case held:
				detail = "exited while held; left down"
			case selfHealing:
				detail = "exited; the platform brings it back"
			case w.policy.Restart == OnFailure:
				detail = fmt.Sprintf("exited; restarting in %v", w.policy.backoff(quick))
			}
			s.record(history.Event{At: now, Kind: history.Exit, Target: name, Detail: detail})
		}
		if held || selfHealing || w.policy.Restart != OnFailure || now < nextStart {
			continue
		}
		if w.policy.MaxRestarts > 0 && restarts >= w.policy.MaxRestarts {
			s.record(history.Event{Kind: history.GiveUp, Target: name,
				Detail: fmt.Sprintf("gave up after %d restarts", restarts)})
			s.mu.Lock()
			if s.watches[name] == w {
				delete(s.watches, name)
			}
			s.mu.Unlock()
			return
		}
		ok, err := s.restart(w)
		if !ok {
			continue // held or started by someone else meanwhile: the next poll sees which
		}
		attempts++
		restarts++
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			quick++
			nextStart = s.h.Now() + w.policy.backoff(quick)
			s.record(history.Event{Kind: history.Exit, Target: name,
				Detail: fmt.Sprintf("restart attempt %d failed; next in %v", attempts, w.policy.backoff(quick)),
				Err:    err.Error()})
			continue
		}
		upSince = s.h.Now()
		down = false
		rec := RestartRecord{Name: name, ExitedAt: exitedAt, RestartedAt: upSince, Attempts: attempts}
		// The history first: whoever sees the record in Restarts finds its event there too.
		s.record(history.Event{At: upSince, Kind: history.Restart, Target: name,
			Detail: fmt.Sprintf("restarted after %v down (%d attempt(s), restart %d)", rec.Downtime().Round(time.Millisecond), attempts, restarts)})
		s.mu.Lock()
		s.restarts = append(s.restarts, rec)
		s.mu.Unlock()
	}
}

// restart starts w's instance unless it was held or started meanwhile; ok says whether
// it tried.
func (s *Supervisor) restart(w *watch) (ok bool, err error) {
	w.op.Lock()
	defer w.op.Unlock()
	name := w.inst.Name()
	if s.Held(name) || s.ctx.Err() != nil {
		return false, nil
	}
	if st, err := w.inst.State(s.ctx); err != nil || st != runtime.StateExited {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.startTimeout)
	defer cancel()
	if err := w.inst.Start(ctx); err != nil {
		return true, fmt.Errorf("restart %s: %w", name, err)
	}
	return true, nil
}

// record writes e into the history and the log.
func (s *Supervisor) record(e history.Event) {
	if e.Err != "" {
		s.log.Warn(string(e.Kind), "instance", e.Target, "detail", e.Detail, "err", e.Err)
	} else {
		s.log.Info(string(e.Kind), "instance", e.Target, "detail", e.Detail)
	}
	s.h.Record(e)
}

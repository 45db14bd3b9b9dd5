package fault

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Active is one applied fault: the handle a scenario heals it with and reads its times
// from. Its heal runs once, whoever asks first: the scenario, the maximum-duration timer
// or the scope's HealAll.
type Active struct {
	scope      *Scope
	fault      Fault
	name       string
	target     string
	injectedAt time.Duration

	once    sync.Once
	healErr error
	healed  chan struct{}

	mu            sync.Mutex
	timer         *time.Timer
	started       bool // the heal has begun
	healedAt      time.Duration
	healStartedAt time.Duration
	expiredAt     time.Duration
}

// Fault is the fault this handle applied.
func (a *Active) Fault() Fault { return a.fault }

// String is the fault's name.
func (a *Active) String() string { return a.name }

// InjectedAt is when the fault was injected, on the history's clock.
func (a *Active) InjectedAt() time.Duration { return a.injectedAt }

// HealedAt is when the heal finished, on the history's clock, and whether it has.
func (a *Active) HealedAt() (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.healedAt, a.healedAt != 0
}

// HealStartedAt is when the heal began, on the history's clock, and whether it has: the
// end of the span during which the fault acted (a kill's heal restarts the instance,
// which takes a while and is not part of the fault).
func (a *Active) HealStartedAt() (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.healStartedAt, a.started
}

// Expired reports whether the fault healed itself at its maximum duration.
func (a *Active) Expired() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.expiredAt != 0
}

// Healed is closed once the heal has finished, whoever ran it.
func (a *Active) Healed() <-chan struct{} { return a.healed }

// Heal heals the fault once: it records FaultHeal, heals, and where the kind can tell,
// waits to see it healed (FaultHealed). Later and concurrent calls wait for that first
// heal and return its result. The heal runs to the end even when ctx is cancelled (a
// rollback must not stop half-way), bounded by the scope's heal timeout.
func (a *Active) Heal(ctx context.Context) error {
	return a.heal(ctx, false)
}

// expire is the maximum-duration timer's heal.
func (a *Active) expire() {
	_ = a.heal(context.Background(), true)
}

func (a *Active) healStarted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started
}

func (a *Active) heal(ctx context.Context, expired bool) error {
	a.once.Do(func() {
		s := a.scope
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.healTimeout)
		defer cancel()
		a.mu.Lock()
		a.started = true
		a.healStartedAt = s.h.Now()
		if a.timer != nil {
			a.timer.Stop()
		}
		if expired {
			a.expiredAt = s.h.Now()
		}
		a.mu.Unlock()
		if expired {
			s.record(a, history.FaultExpired, "reached its maximum duration; healing", nil)
		}
		s.record(a, history.FaultHeal, "", nil)
		a.healErr = a.healAndVerify(ctx)
		a.mu.Lock()
		a.healedAt = s.h.Now()
		a.mu.Unlock()
		close(a.healed)
	})
	<-a.healed
	return a.healErr
}

func (a *Active) healAndVerify(ctx context.Context) error {
	s := a.scope
	if err := a.fault.Heal(ctx); err != nil {
		err = fmt.Errorf("heal %s: %w", a.name, err)
		s.record(a, history.FaultError, "heal failed", err)
		return err
	}
	v, ok := a.fault.(HealVerifier)
	if !ok {
		s.record(a, history.FaultHealed, "this kind cannot be verified healed; the heal call's success is the only proof", nil)
		return nil
	}
	n, err := retry(ctx, s.verifyTimeout, v.VerifyHealed)
	if err != nil {
		err = fmt.Errorf("%w: %s: after %d checks: %w", ErrNotHealed, a.name, n, err)
		s.record(a, history.FaultError, "not seen healed", err)
		return err
	}
	s.record(a, history.FaultHealed, fmt.Sprintf("seen healed after %d check(s)", n), nil)
	return nil
}

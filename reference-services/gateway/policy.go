package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/httpjson"
)

// answer is what one instance answered, read in full within the attempt.
type answer struct {
	instance discovery.Instance
	status   int
	header   http.Header
	body     []byte
}

var (
	// errNoInstance means no instance could take the attempt: none is registered, or
	// every breaker is open. It is never retried and never counts against an instance.
	errNoInstance = errors.New("no live instance")
	// errResponseTooLarge means the instance answered more than MaxResponseBytes. It is
	// the caller's problem, not the instance's health: neither retried nor counted.
	errResponseTooLarge = errors.New("answer too large")
)

// failed tells whether an attempt failed in a way that says something about the
// instance: a connection error, a timeout, or a 502/503/504 from it. It decides both
// what the instance's breaker counts and what the retry policy retries. A call the client
// gave up on (context.Canceled) is neither, and nor is an answer that blames a dependency
// (httpjson.DependencyHeader): the instance is healthy, and every other instance shares
// that dependency, so opening its breaker would only keep it from serving once the
// dependency is back.
func failed(a *answer, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) &&
			!errors.Is(err, errNoInstance) &&
			!errors.Is(err, errResponseTooLarge) &&
			!errors.Is(err, circuitbreaker.ErrOpen)
	}
	return a != nil && retryableStatus(a.status) && a.header.Get(httpjson.DependencyHeader) == ""
}

// retryableStatus reports the statuses that mean "this instance could not serve the
// call", as opposed to an answer about the call itself.
func retryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// idempotent tells whether a call may be sent twice: the methods HTTP defines as
// idempotent, and POST/PATCH when the client vouches for it with an Idempotency-Key.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	case http.MethodPost, http.MethodPatch:
		return r.Header.Get("Idempotency-Key") != ""
	}
	return false
}

// policies are the failsafe-go policies shared by every call. Breakers are per instance
// and made by newBreaker.
type policies struct {
	cfg     Config
	retry   retrypolicy.RetryPolicy[*answer] // nil when Retries is 0
	timeout timeout.Timeout[*answer]
}

func newPolicies(cfg Config) *policies {
	p := &policies{cfg: cfg, timeout: timeout.New[*answer](cfg.AttemptTimeout)}
	if cfg.Retries > 0 {
		p.retry = retrypolicy.NewBuilder[*answer]().
			HandleIf(failed).
			WithMaxRetries(cfg.Retries).
			ReturnLastFailure().
			Build()
	}
	return p
}

// newBreaker returns a breaker for one instance; onState hears every change of state.
// It returns nil when breakers are switched off.
func (p *policies) newBreaker(onState func(circuitbreaker.StateChangedEvent)) circuitbreaker.CircuitBreaker[*answer] {
	if !p.cfg.Breaker {
		return nil
	}
	return circuitbreaker.NewBuilder[*answer]().
		HandleIf(failed).
		WithFailureThresholdRatio(uint(p.cfg.BreakerFailures), uint(p.cfg.BreakerWindow)).
		WithSuccessThreshold(uint(p.cfg.BreakerSuccesses)).
		WithDelay(p.cfg.BreakerDelay).
		OnStateChanged(onState).
		Build()
}

// attempt runs fn once on one instance: inside its breaker (when there is one) and its
// timeout, so that a failure counts toward that instance's breaker only. fn must honour
// the context it is given, which the timeout cancels.
func (p *policies) attempt(ctx context.Context, breaker circuitbreaker.CircuitBreaker[*answer], fn func(context.Context) (*answer, error)) (*answer, error) {
	var exec failsafe.Executor[*answer]
	if breaker != nil {
		exec = failsafe.With[*answer](breaker, p.timeout)
	} else {
		exec = failsafe.With[*answer](p.timeout)
	}
	return exec.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[*answer]) (*answer, error) {
		return fn(e.Context())
	})
}

// call runs one attempt function, retried by the retry policy when the call is
// idempotent and retries are on.
func (p *policies) call(ctx context.Context, retry bool, fn func(context.Context) (*answer, error)) (*answer, error) {
	if !retry || p.retry == nil {
		return fn(ctx)
	}
	return failsafe.With[*answer](p.retry).WithContext(ctx).GetWithExecution(func(e failsafe.Execution[*answer]) (*answer, error) {
		return fn(e.Context())
	})
}

// breakerOpen tells whether b refuses calls for now. A breaker whose delay has run out
// still reports open until a call asks it for a permit, so such a breaker counts as
// available: the next call is its trial.
func breakerOpen(b circuitbreaker.CircuitBreaker[*answer]) bool {
	return b != nil && b.IsOpen() && b.RemainingDelay() > 0
}

// breakerValue maps a breaker state to the gateway_breaker_state gauge.
func breakerValue(s circuitbreaker.State) float64 {
	switch s {
	case circuitbreaker.OpenState:
		return breakerOpenValue
	case circuitbreaker.HalfOpenState:
		return breakerHalfOpenValue
	}
	return breakerClosedValue
}

package fault

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Fault is one thing that can go wrong on purpose. Kinds implement only the mechanics;
// Scope.Apply owns the order of the steps, their recording and the heal's registration.
type Fault interface {
	// Inject makes the fault happen. It may be called once; on error it may have done
	// part of its work, which Heal must undo.
	Inject(ctx context.Context) error
	// Heal undoes Inject, including a half-done one. It is called once, by the lifecycle.
	Heal(ctx context.Context) error
	// String names the fault for a person: "latency 200ms±20ms on accounts-1 (downstream)".
	String() string
}

// Verifier is a Fault that can prove it took effect, through the proxy's state and, where
// it can, through real traffic. Apply retries Verify briefly, then fails loudly.
type Verifier interface {
	// Verify returns nil once the fault is seen to act, or an error saying what was seen.
	Verify(ctx context.Context) error
}

// HealVerifier is a Fault that can prove it healed. Apply's heal retries it briefly.
type HealVerifier interface {
	// VerifyHealed returns nil once the fault is seen to be gone.
	VerifyHealed(ctx context.Context) error
}

// Targeter is a Fault that names what it acts on (an instance, a link), so that the
// history's events carry it.
type Targeter interface {
	// Target is the instance or link name.
	Target() string
}

// Validator is a Fault whose parameters can be checked before anything happens. Apply
// calls it first and injects nothing when it fails; Inject calls it too.
type Validator interface {
	// Validate returns a *ParamError naming the bad field and the fix, or nil.
	Validate() error
}

// ErrNotEffective is returned by Apply when a fault was injected but could not be seen
// to take effect: the scenario must not go on as if it had.
var ErrNotEffective = errors.New("fault did not take effect")

// ErrNotHealed is returned by Heal when the heal ran but the fault was still seen acting.
var ErrNotHealed = errors.New("fault did not heal")

// ErrInvalid is the cause of every *ParamError, for callers that branch on bad parameters.
var ErrInvalid = errors.New("invalid fault parameter")

// ParamError says which parameter of which fault kind is wrong and how to fix it.
type ParamError struct {
	// Kind is the fault kind ("latency").
	Kind string
	// Field is the parameter's name ("Latency", "Fraction", "link").
	Field string
	// Value is what was given.
	Value any
	// Fix says what to give instead.
	Fix string
}

// Error reads "latency: Latency is -5ms: give a duration >= 0".
func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: %s is %v: %s", e.Kind, e.Field, e.Value, e.Fix)
}

// Unwrap returns ErrInvalid.
func (e *ParamError) Unwrap() error { return ErrInvalid }

// badParam builds a *ParamError.
func badParam(kind, field string, value any, fix string) error {
	return &ParamError{Kind: kind, Field: field, Value: value, Fix: fix}
}

// isNil reports whether v is nil or an interface holding a nil pointer, which is what
// a lookup such as Running.Instance hands over for a name it does not know.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// runSeeded is a Fault that draws random numbers (which requests an HTTP fault hits) and
// takes its seed from the scope's run seed unless one was given.
type runSeeded interface {
	seedFromRun(seed int64)
}

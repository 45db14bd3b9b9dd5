package history

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// EventKind names what happened.
type EventKind string

// The kinds of events the harness records.
const (
	FaultInject   EventKind = "fault.inject"   // a fault was injected
	FaultVerified EventKind = "fault.verified" // traffic was seen to be affected
	FaultHeal     EventKind = "fault.heal"     // a fault was healed
	FaultHealed   EventKind = "fault.healed"   // traffic was seen to be normal again
	FaultExpired  EventKind = "fault.expired"  // a fault healed itself at its maximum duration
	FaultError    EventKind = "fault.error"    // a fault step failed
	Restart       EventKind = "supervisor.restart"
	Exit          EventKind = "supervisor.exit"
	GiveUp        EventKind = "supervisor.giveup"
	Note          EventKind = "note"
)

// Event is one fault, supervisor or scenario event.
type Event struct {
	// At is the time since the run started, on the monotonic clock.
	At time.Duration `json:"at_ns"`
	// Kind says what happened.
	Kind EventKind `json:"kind"`
	// Fault is the fault's name (its String()), or empty.
	Fault string `json:"fault,omitempty"`
	// Target is the instance, link or service acted on.
	Target string `json:"target,omitempty"`
	// Detail is free text for people.
	Detail string `json:"detail,omitempty"`
	// Err is the error text when a step failed.
	Err string `json:"error,omitempty"`
}

// Outcome is how an operation ended, as its client saw it.
type Outcome string

// The outcomes an operation can have.
const (
	// OK: the system served it (its answer may still be a refusal the caller asked
	// for, such as "insufficient funds": the system did its job).
	OK Outcome = "ok"
	// Failed: the system did not serve it, and it definitely did not take effect (the
	// request was refused before it reached anything, or shed).
	Failed Outcome = "failed"
	// Unknown: no definite answer (a timeout, a dropped connection, an error from a
	// proxy in front): it may or may not have taken effect. Not served, so it counts
	// against availability; a model checker may place it anywhere after its call.
	Unknown Outcome = "unknown"
	// Cancelled: the run's own stop (Stop, the end of its duration, its context)
	// cut it short. It is recorded but never counted as served or failed; like an
	// unknown one, it may or may not have taken effect.
	Cancelled Outcome = "cancelled"
)

// Op is one operation the load sent. Its fields name no protocol: a client maps what
// it saw (an HTTP status, an ack, a driver's error) onto Outcome and Class.
type Op struct {
	// Intended is when the operation should have started (open model), since run start.
	Intended time.Duration `json:"intended_ns"`
	// Start and End are when it really started and ended, since run start.
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Route names the operation's kind ("GET /api/accounts/v1/accounts/{id}", "publish").
	Route string `json:"route"`
	// Outcome is how it ended: ok, failed, unknown or cancelled.
	Outcome Outcome `json:"outcome"`
	// Class refines the outcome for error tables, in the client's own terms ("5xx:502",
	// "429", "timeout", "nack"); empty when there is nothing to add.
	Class string `json:"class,omitempty"`
	// Err is the client's error text, if any.
	Err string `json:"error,omitempty"`
	// ServedBy is the instance that served it, when the client knows; empty otherwise.
	ServedBy string `json:"served_by,omitempty"`
	// Attempts is how many tries the operation took, when the client knows (0: not known).
	Attempts int `json:"attempts,omitempty"`
	// Input and Output carry an operation's arguments and result for model checkers.
	Input  map[string]string `json:"input,omitempty"`
	Output map[string]string `json:"output,omitempty"`
}

// History records one run. The zero value is not usable: call New.
type History struct {
	start  time.Time
	mu     sync.Mutex
	ops    []Op
	events []Event
}

// New starts a history whose clock starts now.
func New() *History { return &History{start: time.Now()} }

// Started is the wall-clock time the run's clock started.
func (h *History) Started() time.Time { return h.start }

// Now is the time since the run started, on the monotonic clock.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Since converts a time.Time taken in this process to the run's clock.
func (h *History) Since(t time.Time) time.Duration { return t.Sub(h.start) }

// Record appends an event, stamping it with the run's clock when At is zero.
func (h *History) Record(e Event) {
	if e.At == 0 {
		e.At = h.Now()
	}
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

// Add appends an operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Events returns a copy of the events, in time order.
func (h *History) Events() []Event {
	h.mu.Lock()
	out := slices.Clone(h.events)
	h.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Event) int { return int(a.At - b.At) })
	return out
}

// Ops returns a copy of the operations, ordered by actual start.
func (h *History) Ops() []Op {
	h.mu.Lock()
	out := slices.Clone(h.ops)
	h.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Op) int { return int(a.Start - b.Start) })
	return out
}

// ErrorClass names a client's error text for error tables, in words every network
// client shares: "timeout", "refused", "reset", "eof", or "error" for anything else.
// Clients and the loads use it to fill in Op.Class when they have nothing better.
func ErrorClass(text string) string {
	e := strings.ToLower(text)
	switch {
	case strings.Contains(e, "timeout") || strings.Contains(e, "deadline"):
		return "timeout"
	case strings.Contains(e, "refused"):
		return "refused"
	case strings.Contains(e, "reset"):
		return "reset"
	case strings.Contains(e, "eof"):
		return "eof"
	}
	return "error"
}

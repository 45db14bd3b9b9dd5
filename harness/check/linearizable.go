package check

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/harness/history"
)

// The key-value register's operations, as the kv workload records them: Input carries
// "op" (read, write or cas), "key", and "value" (write) or "from" and "to" (cas);
// Output carries "value" (read; "" when the key is absent) or "ok" ("true"/"false", cas).
// An operation whose outcome is not ok (unknown: a timeout, a dropped connection, a
// 5xx; or cancelled by the run's stop) may or may not have taken effect, and porcupine
// may place it anywhere after its call; a failed one did not, and is left out.
const (
	KVRead  = "read"
	KVWrite = "write"
	KVCAS   = "cas"
)

type kvInput struct {
	op, key, value, from, to string
}

type kvOutput struct {
	unknown bool
	value   string
	ok      bool
}

// KVModel is the porcupine model of one register per key.
var KVModel = porcupine.Model{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range ops {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.op {
		case KVRead:
			return out.unknown || out.value == s, s
		case KVWrite:
			return true, in.value
		case KVCAS:
			switch {
			case out.unknown:
				if s == in.from {
					return true, in.to
				}
				return true, s
			case out.ok:
				return s == in.from, in.to
			default:
				return s != in.from, s
			}
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		res := fmt.Sprintf("%q ok=%t", out.value, out.ok)
		if out.unknown {
			res = "unknown"
		}
		return fmt.Sprintf("%s(%s %s%s%s) -> %s", in.op, in.key, in.value, in.from, in.to, res)
	},
}

// Model is a porcupine model and how the history's operations read into it: the kv
// register is one (KV); a user's own system brings its own (a queue, a bank, a lock).
type Model struct {
	// Name names what is modelled, in messages ("kv", "queue").
	Name string
	// Porcupine is the model itself: partition, init, step, descriptions.
	Porcupine porcupine.Model
	// Op reads one recorded operation into the model's input and output, and says
	// whether it is one of the model's operations at all. An operation with no definite
	// outcome (history.Unknown, or history.Cancelled by the run's stop) is read like
	// any other, and Op must give it an output the model's Step accepts in any state:
	// the checker lets it take effect at any time after its call, or never. Failed
	// operations definitely did not take effect and are left out before Op is called.
	Op func(op history.Op) (input, output any, ok bool)
}

// KV is the built-in model of the key-value register, reading the kv workload's Input
// and Output as described at KVRead.
var KV = Model{Name: "kv", Porcupine: KVModel, Op: kvOp}

func kvOp(op history.Op) (any, any, bool) {
	in := op.Input
	if in == nil || (in["op"] != KVRead && in["op"] != KVWrite && in["op"] != KVCAS) {
		return nil, nil, false
	}
	input := kvInput{op: in["op"], key: in["key"], value: in["value"], from: in["from"], to: in["to"]}
	switch {
	case !definite(op):
		return input, kvOutput{unknown: true}, true
	case in["op"] == KVRead:
		return input, kvOutput{value: op.Output["value"]}, true
	}
	return input, kvOutput{ok: op.Output["ok"] == "true"}, true
}

// definite tells whether an operation's outcome says what it did: served.
func definite(op history.Op) bool { return op.Outcome == history.OK }

// porcupineOps reads the model's operations out of ops; an operation without a definite
// outcome returns at infinity. Each goes on the first lane free at its call, so that
// a visualisation shows as many rows as operations overlapped, not one per operation.
func porcupineOps(m Model, ops []history.Op) (out []porcupine.Operation, unknown int) {
	var lanes []time.Duration // when each lane is free again
	for _, op := range ops {
		if op.Outcome == history.Failed {
			continue
		}
		in, res, ok := m.Op(op)
		if !ok {
			continue
		}
		lane := slices.IndexFunc(lanes, func(free time.Duration) bool { return free < op.Start })
		if lane < 0 {
			lane, lanes = len(lanes), append(lanes, 0)
		}
		lanes[lane] = op.End
		p := porcupine.Operation{ClientId: lane, Input: in, Output: res, Call: int64(op.Start), Return: int64(op.End),
			Metadata: describe(op)}
		if !definite(op) {
			p.Return = math.MaxInt64
			unknown++
		}
		out = append(out, p)
	}
	return out, unknown
}

// describe is an operation's metadata in a visualisation.
func describe(op history.Op) string {
	s := op.Route + ": " + string(op.Outcome)
	if op.Class != "" {
		s += " (" + op.Class + ")"
	}
	if op.ServedBy != "" {
		s += ", served by " + op.ServedBy
	}
	return s
}

// Linearizable checks the kv operations of h in sel with porcupine against the
// built-in register, within timeout: LinearizableModel with KV.
func Linearizable(h *history.History, sel Selection, timeout time.Duration) Result {
	return LinearizableModel(h, sel, KV, timeout)
}

// LinearizableModel checks the operations of h in sel that model m reads, with
// porcupine, within timeout. It passes only on a definite "linearizable"; a timeout is
// reported as unknown, not pass. When the history is not linearizable, the result
// keeps porcupine's visualisation of it as an artifact (an HTML page with the partial
// linearizations and the fault events of the window), which the report saves and
// links next to the scenario.
func LinearizableModel(h *history.History, sel Selection, m Model, timeout time.Duration) Result {
	name := m.Name
	if name == "" {
		name = "model"
	}
	ops, unknown := porcupineOps(m, Select(h, sel))
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(m.Porcupine, ops, timeout)
	took := time.Since(start)
	r := Result{Check: "linearizability", Window: sel.Window, Bound: "linearizable", Figures: []Figure{
		{Name: "ops", Value: float64(len(ops))}, {Name: "unknown", Value: float64(unknown)},
		{Name: "check_time", Value: msf(took), Unit: "ms"},
	}}
	switch {
	case len(ops) == 0:
		r.Message = fmt.Sprintf("linearizability: no %s operation in %s: nothing to check", name, sel.Window)
		return r
	case res == porcupine.Ok:
		r.Pass = true
		r.Message = fmt.Sprintf("%d %s operations (%d with unknown outcome) are linearizable (checked in %s)", len(ops), name, unknown, ms(took))
		return r
	case res != porcupine.Illegal:
		r.Message = fmt.Sprintf("linearizability unknown: porcupine did not finish %d %s operations within %s", len(ops), name, timeout)
		return r
	}
	r.Message = fmt.Sprintf("%d %s operations are NOT linearizable: porcupine found no legal order in %s", len(ops), name, sel.Window)
	if a, err := visualize(h, sel, m, ops, timeout); err == nil {
		r.Artifacts = append(r.Artifacts, a)
	} else {
		r.Message += fmt.Sprintf(" (no visualisation: %v)", err)
	}
	return r
}

// visualize renders porcupine's visualisation of ops, with the faults of sel's window
// as annotations on a row of their own.
func visualize(h *history.History, sel Selection, m Model, ops []porcupine.Operation, timeout time.Duration) (Artifact, error) {
	_, info := porcupine.CheckOperationsVerbose(m.Porcupine, ops, timeout)
	var notes []porcupine.Annotation
	for _, e := range h.Events() {
		if sel.Window.Contains(e.At) && strings.HasPrefix(string(e.Kind), "fault.") {
			notes = append(notes, porcupine.Annotation{Tag: "faults", Start: int64(e.At),
				Description: string(e.Kind) + " " + e.Fault, Details: strings.TrimSpace(e.Detail + " " + e.Err)})
		}
	}
	info.AddAnnotations(notes)
	var b bytes.Buffer
	if err := porcupine.Visualize(m.Porcupine, info, &b); err != nil {
		return Artifact{}, fmt.Errorf("porcupine visualisation: %w", err)
	}
	return Artifact{Name: "porcupine visualisation", File: "linearizability.html", Type: "text/html", Data: b.Bytes()}, nil
}

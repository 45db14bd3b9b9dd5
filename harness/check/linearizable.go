package check

import (
	"fmt"
	"math"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/harness/history"
)

// The key-value register's operations, as the kv workload records them: Input carries
// "op" (read, write or cas), "key", and "value" (write) or "from" and "to" (cas);
// Output carries "value" (read; "" when the key is absent) or "ok" ("true"/"false", cas).
// An operation with no definite answer (a transport error, a 5xx, a timeout) is
// unknown: it may or may not have taken effect, and porcupine may place it anywhere
// after its call.
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

// kvOps turns the history's kv operations into porcupine operations.
func kvOps(ops []history.Op) []porcupine.Operation {
	var out []porcupine.Operation
	for i, op := range ops {
		in := op.Input
		if in == nil || (in["op"] != KVRead && in["op"] != KVWrite && in["op"] != KVCAS) {
			continue
		}
		p := porcupine.Operation{
			ClientId: i,
			Input:    kvInput{op: in["op"], key: in["key"], value: in["value"], from: in["from"], to: in["to"]},
			Call:     int64(op.Start),
			Return:   int64(op.End),
		}
		definite := op.Err == "" && op.Status > 0 && op.Status < 500
		switch {
		case !definite:
			p.Output, p.Return = kvOutput{unknown: true}, math.MaxInt64
		case in["op"] == KVRead:
			p.Output = kvOutput{value: op.Output["value"]}
		default:
			p.Output = kvOutput{ok: op.Output["ok"] == "true"}
		}
		out = append(out, p)
	}
	return out
}

// Linearizable checks the kv operations of h in sel with porcupine, within timeout. It
// passes only on a definite "linearizable"; a timeout is reported as unknown, not pass.
func Linearizable(h *history.History, sel Selection, timeout time.Duration) Result {
	ops := kvOps(Select(h, sel))
	unknown := 0
	for _, op := range ops {
		if op.Output.(kvOutput).unknown {
			unknown++
		}
	}
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(KVModel, ops, timeout)
	took := time.Since(start)
	r := Result{Check: "linearizability", Window: sel.Window, Bound: "linearizable", Figures: []Figure{
		{Name: "ops", Value: float64(len(ops))}, {Name: "unknown", Value: float64(unknown)},
		{Name: "check_time", Value: msf(took), Unit: "ms"},
	}}
	switch {
	case len(ops) == 0:
		r.Message = fmt.Sprintf("linearizability: no kv operation in %s: nothing to check", sel.Window)
	case res == porcupine.Ok:
		r.Pass = true
		r.Message = fmt.Sprintf("%d kv operations (%d with unknown outcome) are linearizable (checked in %s)", len(ops), unknown, ms(took))
	case res == porcupine.Illegal:
		r.Message = fmt.Sprintf("%d kv operations are NOT linearizable: porcupine found no legal order in %s", len(ops), sel.Window)
	default:
		r.Message = fmt.Sprintf("linearizability unknown: porcupine did not finish %d operations within %s", len(ops), timeout)
	}
	return r
}

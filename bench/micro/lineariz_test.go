package micro

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
)

// kvWorkload shapes a generated kv history.
type kvWorkload struct {
	seed    uint64
	ops     int
	clients int
	keys    int
	// unknown is the share of operations that time out: their outcome is not known, and
	// a write or cas among them took effect or not, as drawn.
	unknown float64
}

// generated is one operation of a generated history, with the instant it took effect.
type generated struct {
	op    history.Op
	point time.Duration
}

// kvHistory generates a linearizable history of reads, writes and compare-and-sets on
// a few registers, deterministically from the workload's seed: clients each run one
// operation at a time (1 to 10 ms long, up to 2 ms apart), every operation takes effect
// at an instant drawn inside its span, and outputs are what a register applied in the
// order of those instants answers. Operations overlap as much as clients run at once.
func kvHistory(w kvWorkload) []generated {
	rng := rand.New(rand.NewPCG(w.seed, 0x6b76))
	free := make([]time.Duration, w.clients) // when each client is next free
	next := 0                                // the next value written, for unique values
	written := make([][]string, w.keys)      // values written per key, for cas
	gen := make([]generated, 0, w.ops)
	for range w.ops {
		c := 0
		for i := range free {
			if free[i] < free[c] {
				c = i
			}
		}
		call := free[c] + time.Duration(rng.Int64N(int64(2*time.Millisecond)))
		dur := time.Millisecond + time.Duration(rng.Int64N(int64(9*time.Millisecond)))
		free[c] = call + dur
		k := rng.IntN(w.keys)
		key := "k" + strconv.Itoa(k)
		in := map[string]string{"key": key}
		switch r := rng.Float64(); {
		case r < 0.5:
			in["op"] = check.KVRead
		case r < 0.8 || len(written[k]) == 0:
			in["op"], in["value"] = check.KVWrite, strconv.Itoa(next)
			written[k] = append(written[k], in["value"])
			next++
		default: // from one of the last values written, so that some win
			in["op"], in["to"] = check.KVCAS, strconv.Itoa(next)
			in["from"] = written[k][max(0, len(written[k])-1-rng.IntN(3))]
			written[k] = append(written[k], in["to"])
			next++
		}
		op := history.Op{Intended: call, Start: call, End: call + dur, Route: "kv " + in["op"], Input: in, Outcome: history.OK}
		if rng.Float64() < w.unknown {
			op.Outcome, op.Class, op.Err = history.Unknown, "timeout", "context deadline exceeded"
		}
		gen = append(gen, generated{op: op, point: call + time.Duration(rng.Int64N(int64(dur)))})
	}
	// Apply in the order the operations took effect and fill in their outputs.
	order := make([]int, len(gen))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(gen[a].point - gen[b].point) })
	state := map[string]string{}
	for _, i := range order {
		op := &gen[i].op
		in, unknown := op.Input, op.Err != ""
		takes := !unknown || rng.IntN(2) == 0 // an unknown write took effect, or not
		switch in["op"] {
		case check.KVRead:
			op.Output = map[string]string{"value": state[in["key"]]}
		case check.KVWrite:
			if takes {
				state[in["key"]] = in["value"]
			}
		case check.KVCAS:
			ok := state[in["key"]] == in["from"]
			if ok && takes {
				state[in["key"]] = in["to"]
			}
			op.Output = map[string]string{"ok": strconv.FormatBool(ok)}
			if !ok {
				op.Class = "4xx:409" // refused, and served: a definite answer
			}
		}
		if unknown {
			op.Output = nil
		}
	}
	return gen
}

// record puts operations into a fresh history.
func record(gen []generated) *history.History {
	h := history.New()
	for _, g := range gen {
		h.Add(g.op)
	}
	return h
}

// sequential is gen with its concurrency taken out: the same operations and answers,
// each alone in time, in the order they took effect.
func sequential(gen []generated) []generated {
	out := slices.Clone(gen)
	slices.SortStableFunc(out, func(a, b generated) int { return int(a.point - b.point) })
	for i := range out {
		op := out[i].op
		op.Intended, op.Start, op.End = time.Duration(2*i+1), time.Duration(2*i+1), time.Duration(2*i+2)
		out[i].op = op
	}
	return out
}

// timeCheck runs check.Linearizable on h and returns its wall time in ms; a history
// that does not pass fails the benchmark. It collects garbage first, so that a check
// does not pay for the one before it.
func timeCheck(b *testing.B, what string, h *history.History) float64 {
	b.Helper()
	sel := check.Selection{Window: check.Window{Name: "all", To: math.MaxInt64}}
	runtime.GC()
	start := time.Now()
	r := check.Linearizable(h, sel, time.Minute)
	took := msOf(time.Since(start))
	if !r.Pass {
		b.Fatalf("%s: %s", what, r)
	}
	return took
}

// BenchmarkLinearizabilityCheck times harness/check's porcupine kv check (check.Linearizable,
// with its selection of the history's operations) on generated linearizable histories
// of 1k and 10k operations: 8 clients on 4 keys, half reads, 30% writes, 20% cas, 0.5%
// timed out with an unknown outcome. The 1k figure's baseline is the check of the same
// operations with their concurrency taken out (each alone in time): what the search
// over concurrent orders costs beyond reading the history. The 10k figure's baseline is
// the 1k check: how the check scales (a ratio of 10 would be linear).
func BenchmarkLinearizabilityCheck(b *testing.B) {
	w := kvWorkload{seed: 42, ops: 1000, clients: 8, keys: 4, unknown: 0.005}
	small := kvHistory(w)
	w.ops = 10_000
	large := kvHistory(w)
	const runs = 15
	seq, h1k, h10k := record(sequential(small)), record(small), record(large)
	var tSeq, t1k, t10k []float64
	for b.Loop() {
		for range runs { // interleaved, so that a busy spell on the machine hits all three
			tSeq = append(tSeq, timeCheck(b, "1k ops made sequential", seq))
			t1k = append(t1k, timeCheck(b, "1k ops", h1k))
			t10k = append(t10k, timeCheck(b, "10k ops", h10k))
		}
	}
	m1k := quantile(t1k, 0.5)
	desc := fmt.Sprintf("%d clients, %d keys, seed %d, %.1f%% unknown outcomes", w.clients, w.keys, w.seed, w.unknown*100)
	figure.Report(b, figure.Figure{
		Group:        "checks",
		Name:         "porcupine kv check, 1k operations, median",
		Measured:     m1k,
		Baseline:     quantile(tSeq, 0.5),
		BaselineName: "the same 1k operations with their concurrency taken out",
		Unit:         "ms",
		Note: fmt.Sprintf("%s; worst %.1f ms against %.1f ms; %d runs each, interleaved; an unknown outcome stays open to the "+
			"end of the history (kvOps gives it no return), in the baseline too", desc, quantile(t1k, 1), quantile(tSeq, 1), len(t1k)),
		Samples: len(t1k),
	})
	figure.Report(b, figure.Figure{
		Group:        "checks",
		Name:         "porcupine kv check, 10k operations, median",
		Measured:     quantile(t10k, 0.5),
		Baseline:     m1k,
		BaselineName: "the 1k check of the same workload (×10 operations: a ratio of 10 is linear)",
		Unit:         "ms",
		Note: fmt.Sprintf("%s; worst %.1f ms; %d runs, interleaved with the 1k ones; porcupine clones and hashes a "+
			"bitset over all of a key's operations at every step, so a key's check grows with the square of its "+
			"operations: split long histories by window", desc, quantile(t10k, 1), len(t10k)),
		Samples: len(t10k),
	})
}

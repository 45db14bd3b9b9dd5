package load_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
)

// broker stands for a user's own client: a publish that the broker acks or nacks.
type broker struct {
	mu   sync.Mutex
	msgs []string
	n    atomic.Int64
}

func (b *broker) Publish(ctx context.Context, msg string) error {
	if b.n.Add(1)%10 == 0 {
		return fmt.Errorf("nack: queue full")
	}
	b.mu.Lock()
	b.msgs = append(b.msgs, msg)
	b.mu.Unlock()
	return nil
}

// A closed-model load of an operation that is no HTTP call: each worker publishes one
// message after another and says how each ended; the checks read only the outcomes.
func ExampleStartClosed() {
	b := &broker{}
	h := history.New()
	run, _ := load.StartClosed(context.Background(), h, load.Closed{
		Name: "publish", Workers: 2, Duration: time.Minute, MaxOps: 100, Seed: 7,
		Op: func(ctx context.Context, worker int, rng *rand.Rand) history.Op {
			msg := fmt.Sprintf("m%d-%d", worker, rng.IntN(1000))
			op := history.Op{Route: "publish", Input: map[string]string{"msg": msg}}
			if err := b.Publish(ctx, msg); err != nil {
				// The broker refused it: it definitely did not happen.
				op.Outcome, op.Class, op.Err = history.Failed, "nack", err.Error()
			}
			return op
		},
	})
	sum, _ := run.Wait()
	fmt.Printf("sent %d: %d ok, %d failed\n", sum.Sent, sum.OK, sum.Failed)
	fmt.Println(check.Availability(h, check.Selection{Window: check.Whole(h)}, 0.85).Pass)
	// Output:
	// sent 100: 90 ok, 10 failed
	// true
}

// An open-model load of operation functions: ten a second for a second, each started at
// its intended time whatever the others do, drawn from a seeded mix by weight.
func ExampleStartOpenOps() {
	var mu sync.Mutex
	store := map[string]string{}
	put := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		mu.Lock()
		defer mu.Unlock()
		store[fmt.Sprint(n)] = "v"
		return history.Op{ServedBy: "kv-1"}
	}
	get := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		mu.Lock()
		defer mu.Unlock()
		_, ok := store[fmt.Sprint(rng.IntN(n+1))]
		return history.Op{ServedBy: "kv-1", Output: map[string]string{"found": fmt.Sprint(ok)}}
	}
	h := history.New()
	run, _ := load.StartOpenOps(context.Background(), h, load.OpenOps{
		Name: "kv", Rate: 10, Duration: time.Second, Seed: 7,
		Ops: []load.Operation{{Route: "put", Do: put}, {Route: "get", Do: get, Weight: 3}},
	})
	sum, _ := run.Wait()
	fmt.Printf("sent %d, %d ok\n", sum.Sent, sum.OK)
	// Output:
	// sent 10, 10 ok
}

package shop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/shop"
	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/modules/postgres"
)

// TestMain writes the report of the module's experiments (reports/latest/index.html
// in this module) once its tests have run.
func TestMain(m *testing.M) { os.Exit(experiment.Main(m)) }

// upShop brings the shop up on the local runtime, with the machine's own PostgreSQL and
// Redis, and returns it with web's address; the test's end brings it down.
func upShop(t *testing.T) (*harness.Running, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the shop: skipped under -short")
	}
	ctx := t.Context()
	decl, err := shop.System()
	if err != nil {
		t.Fatal(err) // no PostgreSQL or Redis here: ci/test.sh installs both
	}
	rt, err := harness.NewRuntime(ctx, "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sys, err := harness.Up(ctx, decl, harness.WithRuntime(rt), harness.WithSeed(experiment.Seed(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	web, err := sys.Instance("web-1").URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sys, web
}

// answers is the shop's steady state: web answers a read (a 404 for an order nobody
// placed is an answer).
func answers(web string) check.Hypothesis {
	hc := &http.Client{Timeout: 3 * time.Second}
	return check.Hypothesis{Name: "the shop answers", Probes: []check.Probe{{Name: "web reads an order", Run: func(ctx context.Context) error {
		if op := call(ctx, hc, http.MethodGet, web+"/api/orders/o-none", nil); op.Outcome != history.OK {
			return fmt.Errorf("web answered %s %s", op.Class, op.Err)
		}
		return nil
	}}}}
}

// README: the complete experiment
func TestReadsStayAvailableWhileTheCacheIsDown(t *testing.T) {
	ctx := t.Context()
	sys, web := upShop(t) // harness.Up of shop.System() on the local runtime
	h := sys.History()
	e := experiment.Start(ctx, t, sys, experiment.Config{
		Hypothesis: "reads stay available while the cache is down",
		Steady:     answers(web), // must hold before anything is injected, and after
	})
	hc := &http.Client{Timeout: 3 * time.Second}
	read := func(ctx context.Context, _ int, rng *rand.Rand) history.Op {
		return call(ctx, hc, http.MethodGet, fmt.Sprintf("%s/api/orders/o-%d", web, rng.IntN(50)), nil)
	}
	run, err := load.StartOpenOps(ctx, h, load.OpenOps{Name: "reads", Rate: 40, Duration: time.Minute,
		Timeout: 3 * time.Second, Seed: sys.Seed(), Ops: []load.Operation{{Route: "read", Do: read}}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	e.HoldSteady(ctx, experiment.Windows{N: 2}) // inject once two 1 s windows are ≥ 99% ok

	down := e.Apply(ctx, fault.Kill(sys.Instance("cache-1"), fault.HoldDown(sys.Supervisor())))
	time.Sleep(5 * time.Second)
	e.Heal(ctx, down) // and whatever happens, the experiment's end heals it
	run.Stop()

	during := faultline.During(h, down).On("read")
	e.Check(check.Availability(h, during.Selection(), 0.99))
	degraded := check.Select(h, check.Selection{Window: during.Window, Routes: []string{"read"}})
	e.Check(check.Result{Check: "reads say the cache is down", Window: during.Window,
		Pass:    slices.ContainsFunc(degraded, func(op history.Op) bool { return op.Output["cache"] == "down" }),
		Message: "some read during the kill answered X-Cache: down (the kill reached the shop)"})
}

// README: end

// TestOrdersFailFastWithoutTheirDatabaseAndLoseNothing is the shop team's second
// experiment: with orders' own link to its database black-holed, placing an order fails
// fast, and succeeds again after the heal; every order that was acknowledged is in the
// database at the end.
func TestOrdersFailFastWithoutTheirDatabaseAndLoseNothing(t *testing.T) {
	ctx := t.Context()
	sys, web := upShop(t)
	h := sys.History()
	e := experiment.Start(ctx, t, sys, experiment.Config{
		Hypothesis: "orders fail fast without their database, recover after it, and lose no order",
		Steady:     answers(web),
	})

	// The load: orders placed (each with an id of its own) and orders read back, the
	// reads drawing from those already acknowledged.
	hc := &http.Client{Timeout: 3 * time.Second}
	var mu sync.Mutex
	var placed []string
	var seq atomic.Int64
	place := func(ctx context.Context, _ int, rng *rand.Rand) history.Op {
		id := fmt.Sprintf("o-%d", seq.Add(1))
		body, _ := json.Marshal(map[string]any{"id": id, "item": "widget", "qty": 1 + rng.IntN(3)})
		op := call(ctx, hc, http.MethodPost, web+"/api/orders", body)
		op.Input = map[string]string{"id": id}
		if op.Outcome == history.OK {
			mu.Lock()
			placed = append(placed, id)
			mu.Unlock()
		}
		return op
	}
	read := func(ctx context.Context, _ int, rng *rand.Rand) history.Op {
		mu.Lock()
		id := "o-none"
		if len(placed) > 0 {
			id = placed[rng.IntN(len(placed))]
		}
		mu.Unlock()
		return call(ctx, hc, http.MethodGet, web+"/api/orders/"+id, nil)
	}
	run, err := load.StartOpenOps(ctx, h, load.OpenOps{
		Name: "shop", Rate: 40, Duration: time.Minute, Timeout: 3 * time.Second, Seed: sys.Seed(),
		Ops: []load.Operation{{Route: "place", Weight: 1, Do: place}, {Route: "read", Weight: 3, Do: read}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	e.HoldSteady(ctx, experiment.Windows{Routes: []string{"place", "read"}, N: 2})

	// Orders' own link to its database goes black: orders must fail fast, then recover.
	dbLink := sys.Link("orders-1.db")
	if dbLink == nil {
		t.Fatalf("no link orders-1.db in the plan:\n%s", sys.Plan())
	}
	cut := e.Apply(ctx, fault.BlackHole(dbLink))
	time.Sleep(5 * time.Second)
	cutHeal := h.Now()
	e.Heal(ctx, cut)
	noDB := check.Window{Name: "while orders' database is cut off", From: cut.InjectedAt(), To: cutHeal}
	// Observe until orders have been placed again for three windows (at most 20 s).
	e.AwaitRecovery(ctx, cutHeal, experiment.Windows{Routes: []string{"place"}, N: 3, SLO: 0.95, Within: 20 * time.Second})
	run.Stop()
	if _, err := run.Wait(); err != nil {
		t.Fatal(err)
	}

	afterHeal := faultline.SinceHeal(h, cut).On("place")
	e.Check(
		check.FailFast(h, check.Selection{Window: noDB, Routes: []string{"place"}}, 2*time.Second),
		noLoss(t, ctx, sys, h),
	)
	e.Figure(check.Detect(h, check.Selection{Window: noDB, Routes: []string{"place"}}, 0))
	e.Recovered(check.Recover(h, afterHeal.Selection(), 0.95, 2*time.Second, 10*time.Second), cut)
}

// call does one HTTP call and records it as an operation, through the HTTP load's own
// mapping of answers to outcomes; X-Cache goes to the operation's output.
func call(ctx context.Context, hc *http.Client, method, url string, body []byte) history.Op {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return history.Op{Outcome: history.Failed, Err: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return load.HTTPOp(0, nil, nil, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	op := load.HTTPOp(resp.StatusCode, resp.Header, b, nil)
	if c := resp.Header.Get("X-Cache"); c != "" {
		if op.Output == nil {
			op.Output = map[string]string{}
		}
		op.Output["cache"] = c
	}
	return op
}

// noLoss reads every acknowledged order back from the database, through its link.
func noLoss(t *testing.T, ctx context.Context, sys *harness.Running, h *history.History) check.Result {
	addr, err := sys.Instance("db-1").Ingress.HostAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, "postgres://"+postgres.User+"@"+addr+"/"+postgres.Database+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	writes := check.WritesOf(check.Select(h, check.Selection{Window: check.Whole(h), Routes: []string{"place"}}), func(op history.Op) string { return op.Input["id"] })
	return check.NoLoss(writes, func(id string) int {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders WHERE id = $1", id).Scan(&n); err != nil {
			t.Fatalf("read order %s back: %v", id, err)
		}
		return n
	})
}

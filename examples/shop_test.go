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
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/shop"
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

// TestTheShopSurvivesItsCacheAndItsDatabase is the shop team's experiment, on the local
// runtime with the machine's own PostgreSQL and Redis: with the cache killed, reads
// still succeed from orders; with orders' link to its database black-holed, orders
// fail fast and succeed again after the heal; and every order that was acknowledged is
// in the database at the end.
func TestTheShopSurvivesItsCacheAndItsDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the shop: skipped under -short")
	}
	ctx := t.Context()
	sysDecl, err := shop.System()
	if err != nil {
		t.Fatal(err) // no PostgreSQL or Redis here: ci/test.sh installs both
	}
	rt, err := harness.NewRuntime(ctx, "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sys, err := harness.Up(ctx, sysDecl, harness.WithRuntime(rt), harness.WithSeed(experiment.Seed(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	web, err := sys.Instance("web-1").URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := sys.History()
	hc := &http.Client{Timeout: 3 * time.Second}
	e := experiment.Start(ctx, t, sys, experiment.Config{
		Hypothesis: "the shop serves reads without its cache, fails fast without its database, and loses no order",
		Steady: check.Hypothesis{Name: "the shop answers", Probes: []check.Probe{{Name: "web lists an order", Run: func(ctx context.Context) error {
			if op := call(ctx, hc, http.MethodGet, web+"/api/orders/o-none", nil); op.Outcome != history.OK {
				return fmt.Errorf("web answered %s %s", op.Class, op.Err)
			}
			return nil // a 404 for an order nobody placed is an answer
		}}}},
	})

	// The load: orders placed (each with an id of its own) and orders read back, the
	// reads drawing from those already acknowledged.
	var mu sync.Mutex
	var placed []string
	place := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		id := fmt.Sprintf("o-%d", n)
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
	read := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
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
	steady := experiment.Windows{Routes: []string{"place", "read"}, N: 2}
	e.HoldSteady(ctx, steady) // the shop has served for two seconds: inject

	// The cache dies and stays down: the shop must keep serving reads from orders.
	cacheDown := e.Apply(ctx, fault.Kill(sys.Instance("cache-1"), fault.HoldDown(sys.Supervisor())))
	time.Sleep(5 * time.Second)
	healStart := h.Now()
	e.Heal(ctx, cacheDown)
	noCache := check.Window{Name: "while the cache is down", From: cacheDown.InjectedAt(), To: healStart}
	e.AwaitRecovery(ctx, healStart, steady)

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
	// Observe until the shop has served again for three windows (at most 20 s).
	e.AwaitRecovery(ctx, cutHeal, experiment.Windows{Routes: []string{"place"}, N: 3, SLO: 0.95, Within: 20 * time.Second})
	run.Stop()
	if _, err := run.Wait(); err != nil {
		t.Fatal(err)
	}

	afterHeal := check.Window{Name: "after the database link's heal", From: cutHeal, To: h.Now()}
	e.Check(
		check.Availability(h, check.Selection{Window: noCache, Routes: []string{"read"}}, 0.99),
		check.FailFast(h, check.Selection{Window: noDB, Routes: []string{"place"}}, 2*time.Second),
		noLoss(t, ctx, sys, h),
	)
	e.Figure(check.Detect(h, check.Selection{Window: noDB, Routes: []string{"place"}}, 0))
	e.Recovered(check.Recover(h, check.Selection{Window: afterHeal, Routes: []string{"place"}}, 0.95, 2*time.Second, 10*time.Second), cut)
	degraded := 0
	for _, op := range check.Select(h, check.Selection{Window: noCache, Routes: []string{"read"}}) {
		if op.Output["cache"] == "down" {
			degraded++
		}
	}
	if degraded == 0 {
		t.Errorf("no read while the cache was down says X-Cache: down: the kill did not reach the shop")
	}
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

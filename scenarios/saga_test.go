package scenarios_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/reference"
)

// sagaScenarios are the scenarios about the orders saga: its consistency when the debit
// fails, and orders' own fail-fast when a dependency hangs.
var sagaScenarios = []scenario{sagaConsistency, ordersFailFast}

// sagaBlind shows them red: a saga that does not compensate, and an orders call timeout
// longer than any client waits.
var sagaBlind = []blind{
	{property: "the saga's compensation", breaks: reference.WithEnv("orders", "ORDERS_COMPENSATE", "off"), scenario: sagaConsistency},
	{property: "orders' call timeout", breaks: reference.WithEnv("orders", "ORDERS_CALL_TIMEOUT", "10s"), scenario: ordersFailFast},
}

const (
	// sagaStock is the stock of the saga's own item: more than its orders can take.
	sagaStock = 100000
	// sagaPoorBalance affords four orders of sagaAmount: the rest are refused their debit.
	sagaPoorBalance, sagaAmount = 20, 5
	// sagaSettle bounds the wait for every order to be final: pending ones are resumed
	// every 5 s (ORDERS_RESUME_INTERVAL).
	sagaSettle = 45 * time.Second
	// ordersHangBound is orders' own answer time while inventory hangs: two inventory
	// instances, each tried for ORDERS_CALL_TIMEOUT (1 s), then an answer: 2 s and a margin
	// for a busy machine, far below the 5 s a client waits (the blind: 10 s per try).
	ordersHangBound = 3 * time.Second
)

// sagaConsistency: orders are placed for an item of the scenario's own, half of them by
// an account that can pay for four; then every accounts instance dies for a while.
// Every order rejected after its stock was reserved (debit refused, or accounts
// unreachable) must have its stock released: at the end, read back from inventory, the
// item's reserved units are exactly the confirmed orders' and none is lost.
var sagaConsistency = scenario{
	hypothesis: "saga consistency: with debits refused and then every accounts instance down, every order ends confirmed or rejected within 45s, and the item's reserved stock, read back from inventory, is exactly the confirmed orders'",
	labels:     []string{"saga"},
	localOnly:  true,
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		tag := fmt.Sprintf("saga-%d-%d", runSeed(), time.Now().UnixNano())
		item, poor := tag+"-item", tag+"-poor"
		e.made(ctx, "/api/inventory/v1/items", fmt.Sprintf(`{"id":%q,"name":"saga item","stock":%d}`, item, sagaStock))
		e.made(ctx, "/api/accounts/v1/accounts", fmt.Sprintf(`{"id":%q,"owner":"saga","balance":%d}`, poor, sagaPoorBalance))

		o := &sagaOrders{e: e, item: item, accounts: []string{"acct-0", poor}, prefix: tag}
		run, err := load.StartClosed(ctx, h, load.Closed{Name: "saga", Workers: 3, Duration: time.Minute, Op: o.place, Seed: runSeed(), Think: 50 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(run.Stop)
		// Debits refused first: orders answered steadily (a rejection is an answer), and
		// the poor account's money spent.
		x.HoldSteady(ctx, steadyOn(0.99, "saga"))
		Eventually(o.rejected).WithTimeout(20*time.Second).WithPolling(100*time.Millisecond).Should(BeNumerically(">=", 2),
			"no order was rejected for want of money within 20s: the saga's first phase did not happen")

		var kills []*fault.Active
		for _, inst := range e.sys.Instances("accounts") {
			kill, err := x.Scope().Apply(ctx, fault.Kill(inst, fault.HoldDown(e.sys.Supervisor())))
			Expect(err).NotTo(HaveOccurred())
			kills = append(kills, kill)
		}
		time.Sleep(4 * time.Second)
		for _, kill := range kills {
			Expect(kill.Heal(ctx)).To(Succeed())
		}
		// Orders go on until they are answered again with accounts back.
		healStart, _ := kills[0].HealStartedAt()
		x.AwaitRecovery(ctx, healStart, steadyOn(0.99, "saga"))
		stopLoads(run)

		final := o.settle(ctx, h)
		x.Check(final, o.consistent(ctx))
		x.Figure(check.Availability(h, faultline.Between(h, "while accounts is down", kills[len(kills)-1].InjectedAt(), h.Now()).On("saga").Selection(), 0))
	},
}

// sagaOrders places the saga scenario's orders and remembers each by its idempotency
// key, so that an order whose answer was lost is found again by placing it once more.
type sagaOrders struct {
	e        *env
	item     string
	accounts []string
	prefix   string

	mu     sync.Mutex
	n      int
	placed map[string]string // idempotency key → request body
	orders map[string]sagaOrder
}

// sagaOrder is what the scenario reads of an order.
type sagaOrder struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Qty    int64  `json:"qty"`
	Reason string `json:"reason"`
}

// place is the load's operation: one order of one unit, for either account.
func (o *sagaOrders) place(ctx context.Context, worker int, rng *rand.Rand) history.Op {
	o.mu.Lock()
	o.n++
	key := fmt.Sprintf("%s-%d-%d", o.prefix, worker, o.n)
	body := fmt.Sprintf(`{"account":%q,"item":%q,"qty":1,"amount":%d}`, o.accounts[rng.IntN(len(o.accounts))], o.item, sagaAmount)
	if o.placed == nil {
		o.placed, o.orders = map[string]string{}, map[string]sagaOrder{}
	}
	o.placed[key] = body
	o.mu.Unlock()
	code, answer, by, err := exchange(ctx, o.e, http.MethodPost, "/api/orders/v1/orders", body, "Idempotency-Key", key)
	op := history.Op{Route: "saga", ServedBy: by, Input: map[string]string{"key": key}}
	op.Outcome, op.Class = load.HTTPOutcome(code, err)
	if err != nil {
		op.Err = err.Error()
		return op
	}
	if got, ok := decodeOrder(answer); ok {
		o.mu.Lock()
		o.orders[key] = got
		o.mu.Unlock()
		op.Output = map[string]string{"order": got.ID, "status": got.Status}
	}
	return op
}

// rejected counts the orders answered rejected so far.
func (o *sagaOrders) rejected() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, got := range o.orders {
		if got.Status == "rejected" {
			n++
		}
	}
	return n
}

// decodeOrder reads the order in an orders answer: the order itself (confirmed, or
// another replica runs it), or {"error", "order"} (rejected, or pending).
func decodeOrder(answer string) (sagaOrder, bool) {
	var wrapped struct {
		Order sagaOrder `json:"order"`
		sagaOrder
	}
	if json.Unmarshal([]byte(answer), &wrapped) != nil {
		return sagaOrder{}, false
	}
	if wrapped.Order.ID != "" {
		return wrapped.Order, true
	}
	return wrapped.sagaOrder, wrapped.sagaOrder.ID != ""
}

// settle waits until every order placed is final, looking it up again by placing it
// with its key once more (idempotent: the same order comes back), and says how long the
// last one took after the load ended.
func (o *sagaOrders) settle(ctx context.Context, h *history.History) check.Result {
	from := h.Now()
	deadline := time.Now().Add(sagaSettle)
	var open []string
	for {
		open = open[:0]
		o.mu.Lock()
		keys := make(map[string]string, len(o.placed))
		for k, b := range o.placed {
			if got, ok := o.orders[k]; !ok || (got.Status != "confirmed" && got.Status != "rejected") {
				keys[k] = b
			}
		}
		o.mu.Unlock()
		for key, body := range keys {
			code, answer, _, err := exchange(ctx, o.e, http.MethodPost, "/api/orders/v1/orders", body, "Idempotency-Key", key)
			got, ok := decodeOrder(answer)
			if err == nil && code != http.StatusBadRequest && ok {
				o.mu.Lock()
				o.orders[key] = got
				o.mu.Unlock()
				if got.Status == "confirmed" || got.Status == "rejected" {
					continue
				}
			}
			open = append(open, key)
		}
		if len(open) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	took := h.Now() - from
	o.mu.Lock()
	n := len(o.placed)
	o.mu.Unlock()
	r := check.Result{Check: "every order final", Window: check.Window{Name: "after the load", From: from, To: h.Now()},
		Bound: "≤ " + sagaSettle.String(), Pass: len(open) == 0 && n > 0,
		Figures: []check.Figure{{Name: "orders", Value: float64(n)}, {Name: "time_to_final", Value: float64(took) / float64(time.Millisecond), Unit: "ms"}}}
	switch {
	case n == 0:
		r.Message = "no order was placed: nothing shows the saga"
	case len(open) > 0:
		r.Message = fmt.Sprintf("%d of %d orders not final %s after the load: %s", len(open), n, sagaSettle, firstOf(open, 5))
	default:
		r.Message = fmt.Sprintf("all %d orders final %s after the load", n, roundMS(took))
	}
	return r
}

// consistent reads the item back from inventory and checks that its reserved units are
// exactly the confirmed orders' units and its total is unchanged; the rejected orders
// (each rejected after its stock was reserved: inventory is never faulted here) are
// what proves that the saga compensated.
func (o *sagaOrders) consistent(ctx context.Context) check.Result {
	var item struct {
		Stock    int64 `json:"stock"`
		Reserved int64 `json:"reserved"`
	}
	r := check.Result{Check: "saga consistency", Window: check.Window{Name: "after every order is final"},
		Bound: "reserved = confirmed units, stock + reserved = " + fmt.Sprint(sagaStock)}
	var read error
	Eventually(func() error {
		code, body, err := o.e.call(ctx, http.MethodGet, "/api/inventory/v1/items/"+o.item, "")
		switch {
		case err != nil:
			read = err
		case code != http.StatusOK:
			read = fmt.Errorf("inventory answered %d: %s", code, body)
		default:
			read = json.Unmarshal([]byte(body), &item)
		}
		return read
	}).WithContext(ctx).WithTimeout(20 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
	var confirmed, rejected int64
	o.mu.Lock()
	for _, got := range o.orders {
		switch got.Status {
		case "confirmed":
			confirmed += got.Qty
		case "rejected":
			rejected++
		}
	}
	o.mu.Unlock()
	r.Figures = []check.Figure{{Name: "confirmed_units", Value: float64(confirmed)}, {Name: "rejected_orders", Value: float64(rejected)},
		{Name: "reserved", Value: float64(item.Reserved)}, {Name: "stock", Value: float64(item.Stock)}}
	r.Pass = rejected > 0 && confirmed > 0 && item.Reserved == confirmed && item.Stock+item.Reserved == sagaStock
	switch {
	case rejected == 0 || confirmed == 0:
		r.Message = fmt.Sprintf("%d units confirmed, %d orders rejected: both are needed to show the saga", confirmed, rejected)
	case item.Stock+item.Reserved != sagaStock:
		r.Message = fmt.Sprintf("stock %d + reserved %d = %d, not the %d the item was created with", item.Stock, item.Reserved, item.Stock+item.Reserved, sagaStock)
	case item.Reserved > confirmed:
		r.Message = fmt.Sprintf("%d units reserved for %d confirmed: %d held by rejected orders were never released", item.Reserved, confirmed, item.Reserved-confirmed)
	case item.Reserved < confirmed:
		r.Message = fmt.Sprintf("%d units reserved for %d confirmed: confirmed orders lost their stock", item.Reserved, confirmed)
	default:
		r.Message = fmt.Sprintf("%d units reserved for %d confirmed; %d rejected orders released theirs", item.Reserved, confirmed, rejected)
	}
	return r
}

// firstOf lists up to n of items.
func firstOf(items []string, n int) string {
	if len(items) <= n {
		return fmt.Sprint(items)
	}
	return fmt.Sprintf("%v and %d more", items[:n], len(items)-n)
}

// ordersFailFast: every inventory instance hangs (its link swallows everything); orders
// itself, called directly rather than behind the gateway's timeout, must answer within
// its own bound and serve again after the heal.
var ordersFailFast = scenario{
	hypothesis: "orders fail fast: with every inventory instance hanging, orders itself (called directly, not through the gateway) answers every order within 3s, and confirms orders again within 10s of the heal",
	labels:     []string{"fail-fast"},
	localOnly:  true,
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		orders := e.sys.Instance("orders-1")
		Expect(orders).NotTo(BeNil(), "orders-1 is not part of the system")
		base, err := orders.URL(ctx)
		Expect(err).NotTo(HaveOccurred())
		direct := load.Request{Route: "orders direct", Method: http.MethodPost, Path: "/v1/orders",
			Body: `{"account":"acct-{r%10}","item":"item-{r%10}","qty":1,"amount":1}`}
		run, err := load.StartOpen(ctx, h, load.Open{Name: "orders direct", Base: base, Rate: 10, Duration: time.Minute,
			Requests: []load.Request{direct}, Timeout: 5 * time.Second, Seed: runSeed()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(run.Stop)
		x.HoldSteady(ctx, steadyOn(0.95, direct.Route))

		var hangs []*fault.Active
		for _, inst := range e.sys.Instances("inventory") {
			hang, err := x.Scope().Apply(ctx, fault.BlackHole(inst.Ingress))
			Expect(err).NotTo(HaveOccurred())
			hangs = append(hangs, hang)
		}
		time.Sleep(6 * time.Second)
		for _, hang := range hangs {
			Expect(hang.Heal(ctx)).To(Succeed())
		}
		since := faultline.SinceHeal(h, spanners(hangs)...).On(direct.Route)
		x.AwaitRecovery(ctx, since.Window.From, recoveredOn(0.95, 2*time.Second, direct.Route))
		stopLoads(run)

		healStart, _ := hangs[0].HealStartedAt()
		during := faultline.Between(h, "while inventory hangs", hangs[len(hangs)-1].InjectedAt(), healStart).On(direct.Route)
		x.Check(check.FailFast(h, during.Selection(), ordersHangBound))
		x.Recovered(check.Recover(h, faultline.SinceHeal(h, spanners(hangs)...).On(direct.Route).Selection(), 0.95, 2*time.Second, 10*time.Second), hangs...)
	},
}

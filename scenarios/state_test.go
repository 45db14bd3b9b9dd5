package scenarios_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// stateScenarios are the scenarios about state and discovery: partition from the
// registry, registry down, database loss, and the seeded nemesis on the kv register.
var stateScenarios = []scenario{registryPartition, registryDown, databaseLoss, nemesis}

// stateBlind shows those scenarios go red when what they test is broken on purpose.
var stateBlind = []blind{
	{property: "re-registration (REREGISTER=off on accounts)", breaks: reference.WithEnv("accounts", "REREGISTER", "off"), scenario: registryPartition},
	{property: "the gateway's registry cache (GATEWAY_CACHE=off)", breaks: reference.WithEnv("gateway", "GATEWAY_CACHE", "off"), scenario: registryDown},
	{property: "acknowledge after commit (STORE_ACK=before-commit on accounts)", breaks: reference.WithEnv("accounts", "STORE_ACK", "before-commit"), scenario: databaseLoss},
}

// Bounds of the state scenarios: generous, so that a busy two-core machine never turns
// them red, and still far below what a broken property measures.
const (
	// evictWithin bounds the registry's eviction of a partitioned instance (TTL 3 s).
	evictWithin = 10 * time.Second
	// reregisterWithin bounds the return of an instance, or of every instance, to the
	// registry after a heal.
	reregisterWithin = 15 * time.Second
	// fastFailure bounds the p99 latency of every accounts answer, errors included, while
	// its etcd is down: well under the client's 5 s timeout.
	fastFailure = 3500 * time.Millisecond
	// nemesisWindow is the window the seeded nemesis draws its steps' durations over
	// (each a quarter to three quarters of its share); raise it for a longer soak.
	nemesisWindow = 60 * time.Second
	// nemesisSteps is how many faults it draws.
	nemesisSteps = 8
	// nemesisGapWithin bounds each wait for the register to serve again before the next
	// step: a register that never recovers still gets every step within the spec's
	// timeout, and the linearizability check says what that did.
	nemesisGapWithin = 10 * time.Second
)

// registryPartition: one accounts instance loses the registry but keeps serving; the
// registry evicts it, the gateway stops sending it traffic, and after the heal it comes
// back by itself.
var registryPartition = scenario{
	hypothesis: "registry partition: an accounts instance cut off the registry is evicted and gets no traffic, at least 99% of accounts requests are served, and after the heal it re-registers and serves again",
	labels:     []string{"registry-partition"},
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		victim := e.sys.Instance("accounts-2")
		Expect(victim).NotTo(BeNil())
		run := e.drive(ctx, "registry-partition", 40, time.Minute, readAccounts)
		x.HoldSteady(ctx, steadyOn(0.99, "accounts"))

		partition, err := reference.PartitionFromRegistry(victim)
		Expect(err).NotTo(HaveOccurred())
		cut, err := x.Scope().Apply(ctx, partition)
		Expect(err).NotTo(HaveOccurred())
		evicted, evictedAt := waitFor(ctx, h, evictWithin, func(ctx context.Context) bool {
			ids, err := reference.Listed(ctx, e.sys, "accounts")
			return err == nil && !slices.Contains(ids, victim.Name())
		})
		x.Check(within("eviction", "registry lists "+victim.Name()+" no more", cut.InjectedAt(), evicted, evictedAt, evictWithin))
		// The gateway watches the registry: give it a second, then hold for a while.
		time.Sleep(6 * time.Second)
		Expect(cut.Heal(ctx)).To(Succeed())
		healedAt, _ := cut.HealedAt()

		back, backAt := waitFor(ctx, h, reregisterWithin, func(ctx context.Context) bool {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return reference.Registered(ctx, e.sys, "accounts") == nil
		})
		x.Check(within("re-registration", "registry lists "+victim.Name()+" again", healedAt, back, backAt, reregisterWithin))
		// The load ends once the victim has served again (what the last check reads), or
		// at its own end.
		waitFor(ctx, h, 10*time.Second, func(context.Context) bool { return servedSince(h, victim.Name(), backAt) >= 5 })
		stopLoads(run)

		accounts := faultline.During(h, cut).On("accounts")
		late := check.Selection{Window: check.Window{Name: "after eviction", From: evictedAt + time.Second, To: accounts.Window.To}, Routes: []string{"accounts"}}
		if !evicted {
			late.Window.From = accounts.Window.To
		}
		x.Check(
			check.Availability(h, accounts.Selection(), 0.99),
			servedBy(h, late, victim.Name(), false),
			servedBy(h, check.Selection{Window: check.Window{Name: "after re-registration", From: backAt, To: h.Now()}, Routes: []string{"accounts"}}, victim.Name(), true),
		)
	},
}

// registryDown: the registry dies; the gateway routes from its cache, and the restarted
// registry relearns every instance.
var registryDown = scenario{
	hypothesis: "registry down: with the registry killed, at least 99% of accounts and inventory requests are served from the gateway's cache, and after its restart the registry lists every instance again",
	labels:     []string{"registry-down"},
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		regs := e.sys.Instances("registry")
		Expect(regs).To(HaveLen(1))
		run := e.drive(ctx, "registry-down", 40, time.Minute, readAccounts, readInventory)
		x.HoldSteady(ctx, steadyOn(0.99, "accounts", "inventory"))

		kill, err := x.Scope().Apply(ctx, fault.Kill(regs[0], fault.HoldDown(e.sys.Supervisor())))
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(8 * time.Second)
		Expect(kill.Heal(ctx)).To(Succeed())
		healedAt, _ := kill.HealedAt()

		for _, svc := range []string{"accounts", "inventory", "orders"} {
			ok, at := waitFor(ctx, h, reregisterWithin, func(ctx context.Context) bool {
				ctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				return reference.Registered(ctx, e.sys, svc) == nil
			})
			x.Check(within("relearned "+svc, "the restarted registry lists every "+svc+" instance", healedAt, ok, at, reregisterWithin))
		}
		// The load ends once both services have served for two windows after the heal.
		x.AwaitRecovery(ctx, healedAt, steadyOn(0.99, "accounts", "inventory"))
		stopLoads(run)

		during := faultline.During(h, kill)
		x.Check(
			check.Availability(h, during.On("accounts").Selection(), 0.99),
			check.Availability(h, during.On("inventory").Selection(), 0.99),
		)
		// Reported, not judged: what the hypothesis bounds is the outage, served from the cache.
		x.Check(check.Informative(check.Availability(h, faultline.After(h, kill).On("accounts", "inventory").Selection(), 0.99)))
	},
}

// databaseLoss: accounts' etcd dies under deposits; accounts fails fast, inventory does
// not notice, and no acknowledged deposit is lost. An accounts instance is also killed
// while the deposits run, so that a write held in memory would be lost too.
var databaseLoss = scenario{
	hypothesis: "database loss: with accounts' etcd killed, accounts fails fast and at least 99% of inventory requests are served; after it, and an accounts crash mid-deposit, no acknowledged deposit is lost",
	labels:     []string{"database-loss"},
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		db := e.sys.Database("accounts")
		Expect(db).NotTo(BeNil())
		accts := depositAccounts(ctx, e)
		// Eventually: a create acknowledged before commit (the blind proof) shows a moment later.
		before := balancesEventually(ctx, e, accts)

		dep := &deposits{e: e, accounts: accts, prefix: fmt.Sprintf("dl-%d-%d", runSeed(), time.Now().UnixNano())}
		run, err := load.StartClosed(ctx, h, load.Closed{Name: "deposits", Workers: 4, Duration: time.Minute, Op: dep.op, Seed: runSeed(), Think: 20 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(run.Stop)
		inv := e.drive(ctx, "database-loss", 20, time.Minute, readInventory)
		x.HoldSteady(ctx, steadyOn(0.99, "deposit", "inventory"))

		kill, err := x.Scope().Apply(ctx, fault.Kill(db, fault.HoldDown(e.sys.Supervisor())))
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(7 * time.Second)
		Expect(kill.Heal(ctx)).To(Succeed())
		// Deposits resume; then one accounts instance crashes in the middle of them.
		healStart, _ := kill.HealStartedAt()
		x.AwaitRecovery(ctx, healStart, steadyOn(0.99, "deposit"))
		crash, err := x.Scope().Apply(ctx, fault.Kill(e.sys.Instance("accounts-1")))
		Expect(err).NotTo(HaveOccurred())
		Expect(crash.Heal(ctx)).To(Succeed())
		// Deposits go on until they are acknowledged again after the crash.
		crashHeal, _ := crash.HealStartedAt()
		x.AwaitRecovery(ctx, crashHeal, steadyOn(0.99, "deposit"))
		stopLoads(run, inv)

		after := balancesEventually(ctx, e, accts)
		during := faultline.During(h, kill)
		x.Check(
			answerLatency(h, during.On("deposit").Selection(), fastFailure),
			check.Availability(h, during.On("inventory").Selection(), 0.99),
			dep.noLoss(after-before),
		)
	},
}

// nemesis: a seeded random nemesis on the accounts instances and their links, while
// workers read, write and compare-and-set a few keys; the history must be linearizable
// and every key must end on a value that was written.
var nemesis = scenario{
	hypothesis: "nemesis: under 8 seeded random faults on the accounts instances and links, each begun once the register serves again, the kv register stays linearizable and ends on written values",
	labels:     []string{"nemesis"},
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		catalog, err := fault.NewCatalog().Only("kill", "pause", "latency", "black-hole")
		Expect(err).NotTo(HaveOccurred())
		// The two declared accounts instances, by name: an instance another scenario added
		// must not change what a seed draws, or a replay of this scenario alone would differ.
		targets := fault.Targets{Holder: e.sys.Supervisor()}
		for _, name := range []string{"accounts-1", "accounts-2"} {
			inst := e.sys.Instance(name)
			Expect(inst).NotTo(BeNil())
			targets.Instances = append(targets.Instances, inst)
			targets.Links = append(targets.Links, inst.Ingress)
		}
		// Steps never overlap (fault.Schedule): at most one accounts instance is hurt at
		// once. Played paced: each next step as soon as the register has served again
		// after the last heal, not after the gap the schedule drew.
		sched, err := catalog.Schedule(int64(runSeed()), nemesisSteps, nemesisWindow, targets)
		Expect(err).NotTo(HaveOccurred())
		// The t+ times are the draw's; played paced, each step begins once the register
		// serves again, and the gaps it waited are logged after it.
		GinkgoWriter.Printf("nemesis schedule (seed %d, played paced: the t+ times are the draw's):\n%s", runSeed(), sched)
		AddReportEntry("nemesis schedule", fmt.Sprintf("seed %d, played paced (the t+ times are the draw's)\n%s", runSeed(), sched))

		kv := &register{e: e, prefix: fmt.Sprintf("nem-%d-%d", runSeed(), time.Now().UnixNano()), keys: 3}
		from := h.Now()
		run, err := load.StartClosed(ctx, h, load.Closed{Name: "kv", Workers: 4, Duration: 2*nemesisWindow + time.Minute, Op: kv.op, Seed: runSeed(), Think: 40 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(run.Stop)
		x.HoldSteady(ctx, steadyOn(0.99, "kv"))
		paced := steadyOn(0.99, "kv")
		paced.Within = nemesisGapWithin
		gaps, playErr := x.PlayPaced(ctx, sched, paced)
		Expect(playErr).NotTo(HaveOccurred())
		GinkgoWriter.Printf("nemesis: each next step waited %v after the heal before it\n", roundAll(gaps))
		AddReportEntry("nemesis gaps", fmt.Sprintf("each next step waited %v after the heal before it", roundAll(gaps)))
		// The register's last answers after the last heal belong to the history too.
		x.AwaitRecovery(ctx, h.Now(), steadyOn(0.99, "kv"))
		stopLoads(run)

		x.Check(
			check.Linearizable(h, check.Selection{Window: window(h, "nemesis", from), Routes: []string{"kv"}}, time.Minute),
			kv.endsOnWritten(ctx),
		)
	},
}

// roundAll rounds durations to 10 ms, for a log line.
func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

// waitFor polls cond every 200 ms until it holds or d passes, and tells whether it held
// and when, on the run's clock.
func waitFor(ctx context.Context, h *history.History, d time.Duration, cond func(context.Context) bool) (bool, time.Duration) {
	deadline := time.Now().Add(d)
	for {
		if cond(ctx) {
			return true, h.Now()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, h.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// within is the result of waiting for something: it passes when it happened within
// bound of since.
func within(name, what string, since time.Duration, happened bool, at time.Duration, bound time.Duration) check.Result {
	took := at - since
	r := check.Result{Check: name, Window: check.Window{Name: name, From: since, To: at}, Bound: "≤ " + bound.String(),
		Pass: happened && took <= bound}
	if happened {
		r.Figures = []check.Figure{{Name: "time_to_" + strings.ReplaceAll(name, " ", "_"), Value: float64(took) / float64(time.Millisecond), Unit: "ms"}}
		r.Message = fmt.Sprintf("%s: %s after %s (bound %s)", name, what, took.Round(10*time.Millisecond), r.Bound)
	} else {
		r.Message = fmt.Sprintf("%s: %s did not happen within %s", name, what, bound)
	}
	return r
}

// servedBy counts the answers of sel served by instance: with want false it passes when
// there are none (and there was traffic, some of it saying who served it), with want
// true when there is at least one. It fails, saying why, when no operation records
// which instance served it: silence is no proof that the instance got no traffic.
func servedBy(h *history.History, sel check.Selection, instance string, want bool) check.Result {
	ops := check.Select(h, sel)
	n, named := 0, 0
	for _, op := range ops {
		if op.ServedBy != "" {
			named++
		}
		if op.ServedBy == instance {
			n++
		}
	}
	r := check.Result{Check: "traffic to " + instance, Window: sel.Window, Figures: []check.Figure{
		{Name: "ops", Value: float64(len(ops))}, {Name: "served_by_" + instance, Value: float64(n)},
	}}
	if want {
		r.Bound, r.Pass = "≥ 1 answer", n > 0
	} else {
		r.Bound, r.Pass = "0 answers", n == 0 && named > 0
	}
	r.Message = fmt.Sprintf("%s served %d of %d requests in %s (bound %s)", instance, n, len(ops), sel.Window, r.Bound)
	if named == 0 && len(ops) > 0 {
		r.Message = fmt.Sprintf("traffic to %s: none of the %d requests in %s says which instance served it (ServedBy is empty): cannot tell (bound %s)", instance, len(ops), sel.Window, r.Bound)
	}
	return r
}

// answerLatency measures the p99 latency of every operation of sel, failed ones
// included (a timeout counts as its full wait), and passes when it is at most bound: a
// service that fails must fail fast.
func answerLatency(h *history.History, sel check.Selection, bound time.Duration) check.Result {
	ops := check.Select(h, sel)
	var took []time.Duration
	failed := 0
	for _, op := range ops {
		took = append(took, op.End-op.Intended)
		if !check.OK(op) {
			failed++
		}
	}
	r := check.Result{Check: "fail fast", Window: sel.Window, Bound: "p99 ≤ " + bound.String()}
	if len(took) == 0 {
		r.Message = fmt.Sprintf("fail fast: no operation in %s: nothing to measure", sel.Window)
		return r
	}
	slices.Sort(took)
	p99 := took[min(len(took)-1, len(took)*99/100)]
	r.Figures = []check.Figure{{Name: "ops", Value: float64(len(ops))}, {Name: "failed", Value: float64(failed)},
		{Name: "p99", Value: float64(p99) / float64(time.Millisecond), Unit: "ms"},
		{Name: "max", Value: float64(took[len(took)-1]) / float64(time.Millisecond), Unit: "ms"}}
	r.Pass = p99 <= bound
	r.Message = fmt.Sprintf("fail fast: p99 %s, max %s of all %d answers (%d failed) on %v in %s (bound %s)",
		p99.Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), len(ops), failed, sel.Routes, sel.Window, r.Bound)
	return r
}

// exchange sends one request through the gateway with the demo key (a header pair may
// replace it) and returns its status, body and serving instance; err is set when no
// answer came.
func exchange(ctx context.Context, e *env, method, path, body string, header ...string) (int, string, string, error) {
	return send(ctx, method, reference.GatewayURL(e.sys)+path, body, append([]string{"X-API-Key", reference.APIKey}, header...)...)
}

// send sends one JSON request to url, with header's name and value pairs set in turn,
// and returns the answer's status, body and serving instance (X-Served-By); err is set
// when no answer came.
func send(ctx context.Context, method, url, body string, header ...string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", "", err
	}
	return resp.StatusCode, string(b), resp.Header.Get("X-Served-By"), nil
}

// depositAccounts creates the accounts the deposits go to, of this scenario alone (no
// other load touches them), and returns their ids.
func depositAccounts(ctx context.Context, e *env) []string {
	var ids []string
	for i := range 4 {
		id := fmt.Sprintf("deposits-%d", i)
		code, body, err := e.call(ctx, http.MethodPost, "/api/accounts/v1/accounts", fmt.Sprintf(`{"id":%q,"owner":"deposits","balance":0}`, id))
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(SatisfyAny(Equal(201), Equal(409)), body)
		ids = append(ids, id)
	}
	return ids
}

// balancesEventually returns the sum of the accounts' balances, once accounts answers
// them all (after a fault, it may take a moment).
func balancesEventually(ctx context.Context, e *env, ids []string) int64 {
	var sum int64
	Eventually(func(g Gomega) {
		sum = 0
		for _, id := range ids {
			code, body, err := e.call(ctx, http.MethodGet, "/api/accounts/v1/accounts/"+id, "")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(code).To(Equal(http.StatusOK), body)
			var a struct {
				Balance int64 `json:"balance"`
			}
			g.Expect(json.Unmarshal([]byte(body), &a)).To(Succeed())
			sum += a.Balance
		}
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
	return sum
}

// deposits is a closed-model deposit workload: each deposit has its own Idempotency-Key
// (reused by the gateway's retries), and the sums acknowledged and attempted are kept.
type deposits struct {
	e         *env
	accounts  []string
	prefix    string
	n         atomic.Int64
	acked     atomic.Int64
	ackedN    atomic.Int64
	attempted atomic.Int64
}

func (d *deposits) op(ctx context.Context, worker int, rng *rand.Rand) history.Op {
	id := d.accounts[rng.IntN(len(d.accounts))]
	amount := int64(1 + rng.IntN(100))
	key := fmt.Sprintf("%s-%d-%d", d.prefix, worker, d.n.Add(1))
	d.attempted.Add(amount)
	code, body, by, err := exchange(ctx, d.e, http.MethodPost, "/api/accounts/v1/accounts/"+id+"/deposit",
		fmt.Sprintf(`{"amount":%d}`, amount), "Idempotency-Key", key)
	op := history.Op{Route: "deposit", ServedBy: by,
		Input: map[string]string{"account": id, "amount": strconv.FormatInt(amount, 10), "key": key}}
	op.Outcome, op.Class = load.HTTPOutcome(code, err)
	if err != nil {
		op.Err = err.Error()
	}
	switch {
	case err == nil && code == http.StatusOK:
		d.acked.Add(amount)
		d.ackedN.Add(1)
	case err == nil && code >= 400 && code < 500:
		// A definite refusal wrote nothing.
		d.attempted.Add(-amount)
		op.Output = map[string]string{"error": strings.TrimSpace(body)}
	}
	return op
}

// noLoss checks the balance change against the deposits: at least every acknowledged
// one (none lost), at most every attempted one (none applied twice).
func (d *deposits) noLoss(change int64) check.Result {
	acked, attempted := d.acked.Load(), d.attempted.Load()
	r := check.Result{Check: "no acknowledged deposit lost", Window: check.Window{Name: "after the run"},
		Bound: "acknowledged ≤ balance change ≤ attempted", Figures: []check.Figure{
			{Name: "acknowledged_deposits", Value: float64(d.ackedN.Load())},
			{Name: "acknowledged_sum", Value: float64(acked)},
			{Name: "balance_change", Value: float64(change)},
			{Name: "attempted_sum", Value: float64(attempted)},
		}}
	r.Pass = d.ackedN.Load() > 0 && acked <= change && change <= attempted
	switch {
	case d.ackedN.Load() == 0:
		r.Message = "no deposit was acknowledged: nothing proves durability"
	case change < acked:
		r.Message = fmt.Sprintf("%d of the %d acknowledged in %d deposits are LOST: the balances grew by %d only", acked-change, acked, d.ackedN.Load(), change)
	case change > attempted:
		r.Message = fmt.Sprintf("the balances grew by %d, more than the %d ever attempted: a deposit was applied twice", change, attempted)
	default:
		r.Message = fmt.Sprintf("balances grew by %d: all %d acknowledged in %d deposits are there, and no more than the %d attempted", change, acked, d.ackedN.Load(), attempted)
	}
	return r
}

// register is the kv workload of the nemesis: reads, writes and compare-and-sets on a
// few keys of its own, each recorded with its input and output for the linearizability
// checker. Every write carries an Idempotency-Key, so that a retried or late delivery is
// applied once.
type register struct {
	e      *env
	prefix string
	keys   int
	n      atomic.Int64

	mu      sync.Mutex
	written map[string][]string // every value ever sent for a key
	seen    map[string]string   // last value a worker read or wrote, per key
}

func (k *register) key(i int) string { return fmt.Sprintf("%s-k%d", k.prefix, i) }

func (k *register) remember(key, value string, sent bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.written == nil {
		k.written, k.seen = map[string][]string{}, map[string]string{}
	}
	if sent {
		k.written[key] = append(k.written[key], value)
	}
	if value != "" {
		k.seen[key] = value
	}
}

func (k *register) last(key string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen[key]
}

func (k *register) op(ctx context.Context, worker int, rng *rand.Rand) history.Op {
	key := k.key(rng.IntN(k.keys))
	n := k.n.Add(1)
	path := "/api/accounts/v1/kv/" + key
	idem := fmt.Sprintf("%s-%d", k.prefix, n)
	op := history.Op{Route: "kv"}
	var (
		code     int
		body, by string
		err      error
	)
	from := k.last(key)
	switch p := rng.IntN(10); {
	case p < 4 || (p >= 7 && from == ""):
		op.Input = map[string]string{"op": check.KVRead, "key": key}
		code, body, by, err = exchange(ctx, k.e, http.MethodGet, path, "")
	case p < 7:
		v := fmt.Sprintf("w%d-%d", worker, n)
		op.Input = map[string]string{"op": check.KVWrite, "key": key, "value": v}
		k.remember(key, v, true)
		code, body, by, err = exchange(ctx, k.e, http.MethodPut, path, fmt.Sprintf(`{"value":%q}`, v), "Idempotency-Key", idem)
	default:
		to := fmt.Sprintf("c%d-%d", worker, n)
		op.Input = map[string]string{"op": check.KVCAS, "key": key, "from": from, "to": to}
		k.remember(key, to, true)
		code, body, by, err = exchange(ctx, k.e, http.MethodPost, path+"/cas", fmt.Sprintf(`{"from":%q,"to":%q}`, from, to), "Idempotency-Key", idem)
	}
	op.Outcome, op.Class = load.HTTPOutcome(code, err)
	op.ServedBy = by
	switch {
	case err != nil:
		op.Err = err.Error()
		return op
	case code == http.StatusTooManyRequests:
		// Shed, not refused by the register: count it as unknown, never as an answer.
		op.Outcome, op.Err = history.Unknown, "rate limited (429)"
		return op
	case code >= 500:
		return op
	}
	switch op.Input["op"] {
	case check.KVRead:
		v := ""
		if code == http.StatusOK {
			var got struct {
				Value string `json:"value"`
			}
			if json.Unmarshal([]byte(body), &got) != nil {
				op.Outcome, op.Err = history.Unknown, "undecodable answer: "+body
				return op
			}
			v = got.Value
		} else if code != http.StatusNotFound {
			op.Outcome, op.Err = history.Unknown, fmt.Sprintf("unexpected %d: %s", code, body)
			return op
		}
		op.Output = map[string]string{"value": v}
		k.remember(key, v, false)
	case check.KVWrite:
		if code != http.StatusOK {
			op.Outcome, op.Err = history.Unknown, fmt.Sprintf("unexpected %d: %s", code, body)
			return op
		}
		op.Output = map[string]string{"ok": "true"}
	case check.KVCAS:
		switch code {
		case http.StatusOK:
			op.Output = map[string]string{"ok": "true"}
		case http.StatusConflict, http.StatusNotFound:
			op.Output = map[string]string{"ok": "false"}
		default:
			op.Outcome, op.Err = history.Unknown, fmt.Sprintf("unexpected %d: %s", code, body)
		}
	}
	return op
}

// endsOnWritten reads every key once the nemesis is over: each must hold a value some
// worker sent (or none, for a key never written).
func (k *register) endsOnWritten(ctx context.Context) check.Result {
	r := check.Result{Check: "final values written", Window: check.Window{Name: "after the nemesis"}, Bound: "every key holds a value that was written"}
	var bad []string
	checked := 0
	for i := range k.keys {
		key := k.key(i)
		var v string
		var found bool
		Eventually(func(g Gomega) {
			code, body, err := k.e.call(ctx, http.MethodGet, "/api/accounts/v1/kv/"+key, "")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(code).To(SatisfyAny(Equal(http.StatusOK), Equal(http.StatusNotFound)), body)
			found = code == http.StatusOK
			var got struct {
				Value string `json:"value"`
			}
			if found {
				g.Expect(json.Unmarshal([]byte(body), &got)).To(Succeed())
			}
			v = got.Value
		}).WithContext(ctx).WithTimeout(20 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
		k.mu.Lock()
		ok := (!found && len(k.written[key]) == 0) || (found && slices.Contains(k.written[key], v))
		k.mu.Unlock()
		checked++
		if !ok {
			bad = append(bad, fmt.Sprintf("%s=%q", key, v))
		}
	}
	r.Figures = []check.Figure{{Name: "keys", Value: float64(checked)}, {Name: "bad", Value: float64(len(bad))}}
	r.Pass = len(bad) == 0
	if r.Pass {
		r.Message = fmt.Sprintf("all %d keys hold a value that was written", checked)
	} else {
		r.Message = fmt.Sprintf("%d keys hold a value nobody wrote: %s", len(bad), strings.Join(bad, ", "))
	}
	return r
}

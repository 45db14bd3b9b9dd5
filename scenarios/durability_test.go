package scenarios_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/supervise"
)

// durabilityScenarios are the kill -9 cycles: an accounts instance and accounts' etcd
// are killed in turn under write load, each left to the supervisor to restart, and
// every write acknowledged meanwhile must be readable afterwards. The short one runs
// with the suite; the 50-cycle soak is labelled "slow" and runs outside `make test`
// (go test ./scenarios/ -ginkgo.label-filter='slow').
var durabilityScenarios = []scenario{durabilityShort, durabilitySoak}

// durabilityBlind shows the kill cycles go red when writes are acknowledged before etcd
// commits them.
var durabilityBlind = []blind{
	{property: "acknowledge after commit under kill cycles (STORE_ACK=before-commit on accounts)", breaks: reference.WithEnv("accounts", "STORE_ACK", "before-commit"), scenario: durabilityShort},
}

// Sizes and bounds of the kill cycles: generous, so that a busy two-core machine never
// turns them red; the property they guard, no acknowledged write lost, has no slack.
const (
	// shortCycles is the short variant's cycles: three instance kills, two etcd kills.
	shortCycles = 5
	// soakCycles is the soak's: 25 of each.
	soakCycles = 50
	// cycleRecoverWithin bounds one cycle's recovery, from the kill until the restarted
	// instance serves an acknowledged write again (for etcd: until any write is
	// acknowledged again). Kills that come quickly raise the supervisor's backoff to 5 s.
	cycleRecoverWithin = 45 * time.Second
	// cycleSettle is how long the write load runs on the recovered system before the
	// next kill.
	cycleSettle = time.Second
)

// durabilityShort is the kill cycles in a size that fits every suite run.
var durabilityShort = scenario{
	hypothesis: fmt.Sprintf("durability: across %d kill -9 cycles alternating an accounts instance and accounts' etcd under write load, each restarted by the platform (the supervisor, or the kubelet), every cycle recovers within %s and no acknowledged write is lost", shortCycles, cycleRecoverWithin),
	labels:     []string{"durability"},
	body:       killCycles(shortCycles),
}

// durabilitySoak is the kill cycles as a soak: long enough to catch a loss that one
// crash in a hundred shows.
var durabilitySoak = scenario{
	hypothesis: fmt.Sprintf("durability soak: across %d kill -9 cycles alternating an accounts instance and accounts' etcd under write load, each restarted by the platform (the supervisor, or the kubelet), every cycle recovers within %s and no acknowledged write is lost", soakCycles, cycleRecoverWithin),
	labels:     []string{"durability", "soak", "slow"},
	body:       killCycles(soakCycles),
}

// killCycles returns the body of a kill-cycle scenario of n cycles. Even cycles kill
// accounts-1 or accounts-2 (in turn), odd ones accounts' etcd; all with SIGKILL and no
// hold, so that the supervisor restarts what was killed, as it would in production.
// Kv writes to keys of their own (each read back at the end) and deposits (summed
// against the balances) run all along.
func killCycles(n int) func(ctx SpecContext, e *env, x *experiment.Experiment) {
	return func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		db := e.sys.Database("accounts")
		Expect(db).NotTo(BeNil(), "accounts has no database")
		var instances []*harness.Instance
		for _, name := range []string{"accounts-1", "accounts-2"} {
			inst := e.sys.Instance(name)
			Expect(inst).NotTo(BeNil(), "%s is not part of the system", name)
			instances = append(instances, inst)
		}
		accts := depositAccounts(ctx, e)
		before := balancesEventually(ctx, e, accts)

		tag := fmt.Sprintf("dur-%d-%d", runSeed(), time.Now().UnixNano())
		w := &writes{e: e, prefix: tag + "-k"}
		dep := &deposits{e: e, accounts: accts, prefix: tag + "-d"}
		wl := &writeLoad{e: e, w: w, dep: dep}
		DeferCleanup(wl.stop)
		wl.keep(ctx)
		x.HoldSteady(ctx, steadyOn(0.99, writeRoutes...))

		sc := x.Scope()
		var cycles []cycle
		started := time.Now()
		for i := range n {
			target := instances[(i/2)%len(instances)]
			if i%2 == 1 {
				target = db
			}
			wl.keep(ctx) // a load that reached load.MaxDuration starts again
			c := killAndRecover(ctx, e, sc, w, target, i%2 == 1)
			cycles = append(cycles, c)
			GinkgoWriter.Printf("cycle %d/%d: %s\n", i+1, n, c)
			if !c.recovered {
				break // the system did not come back: more kills prove nothing
			}
			time.Sleep(cycleSettle)
			cycles[len(cycles)-1].took = time.Since(c.began)
		}
		took := time.Since(started)
		wl.stop()

		after := balancesEventually(ctx, e, accts)
		written := w.readBack(ctx)
		rec := recoveries(h, cycles, n, took, cycleRecoverWithin)
		sums := dep.noLoss(after - before)
		x.Check(written, sums, rec)
		// How each killed accounts instance came back by itself: figures, not checks
		// (the recovery of every cycle is bounded by rec).
		for _, c := range cycles {
			if c.registered != nil {
				x.Check(check.SelfHealing(h, c.target, c.killedAt, c.registered()))
			}
		}
		summary := fmt.Sprintf("%d of %d cycles in %s (%s per cycle); %s; deposits: %s; %s", len(cycles), n,
			took.Round(time.Second), (took / time.Duration(max(1, len(cycles)))).Round(100*time.Millisecond), written.Message, sums.Message, rec.Message)
		GinkgoWriter.Println("durability: " + summary)
		AddReportEntry("durability figures", summary)
	}
}

// cycle is one kill and the recovery that followed, on the run's clock.
type cycle struct {
	target   string
	database bool
	began    time.Time
	// killedAt, restartedAt (by the supervisor) and recoveredAt (an acknowledged write
	// served again).
	killedAt, restartedAt, recoveredAt time.Duration
	restarted, recovered               bool
	// registered tells when a killed accounts instance was seen registering again (0:
	// not seen); nil for the database, which does not register.
	registered func() time.Duration
	// took is the cycle's wall time, the settle after the recovery included.
	took time.Duration
}

// String reads "kill accounts-db: restarted after 412ms, writes acknowledged again after 1.2s".
func (c cycle) String() string {
	switch {
	case !c.restarted:
		return fmt.Sprintf("kill %s: not restarted by the platform within %s", c.target, cycleRecoverWithin)
	case !c.recovered:
		return fmt.Sprintf("kill %s: restarted after %s, but no write acknowledged by it within %s of the kill", c.target, roundMS(c.restartedAt-c.killedAt), cycleRecoverWithin)
	}
	return fmt.Sprintf("kill %s: restarted after %s, writes acknowledged again after %s", c.target, roundMS(c.restartedAt-c.killedAt), roundMS(c.recoveredAt-c.killedAt))
}

// killAndRecover kills target with SIGKILL, waits for the supervisor to restart it, and
// then for the write load to be acknowledged again: by the restarted instance itself,
// or, for the database, by any instance.
func killAndRecover(ctx context.Context, e *env, sc *fault.Scope, w *writes, target *harness.Instance, database bool) cycle {
	h := e.sys.History()
	c := cycle{target: target.Name(), database: database, began: time.Now()}
	if !database {
		c.registered = watchRegistration(ctx, e, target.Name())
	}
	kill, err := sc.Apply(ctx, fault.Kill(target))
	Expect(err).NotTo(HaveOccurred())
	c.killedAt = kill.InjectedAt()
	deadline := time.Now().Add(cycleRecoverWithin)

	var restart supervise.RestartRecord
	c.restarted, _ = waitFor(ctx, h, time.Until(deadline), func(context.Context) bool {
		var ok bool
		restart, ok = restartOf(e.sys.Supervisor(), target.Name(), c.killedAt)
		return ok
	})
	if !c.restarted {
		return c // the scope's HealAll starts it at the spec's end
	}
	c.restartedAt = restart.RestartedAt
	// Already running again: the heal only verifies it runs and answers.
	Expect(kill.Heal(ctx)).To(Succeed())
	c.recovered, c.recoveredAt = waitFor(ctx, h, time.Until(deadline), func(context.Context) bool {
		if database {
			return w.lastAck("") > restart.RestartedAt
		}
		return w.lastAck(target.Name()) > restart.RestartedAt
	})
	return c
}

// recoveries checks that every one of the n cycles recovered within bound, and reports
// the figures of the recoveries by kind, and the wall time per cycle.
func recoveries(h *history.History, cycles []cycle, n int, took, bound time.Duration) check.Result {
	r := check.Result{Check: "recovered every cycle", Window: check.Window{Name: "the kill cycles", To: h.Now()},
		Bound: fmt.Sprintf("%d cycles, each writing again ≤ %s after its kill", n, bound)}
	if len(cycles) > 0 {
		r.Window.From = cycles[0].killedAt
	}
	kinds := map[bool][]time.Duration{}
	recovered := 0
	var longest time.Duration
	for _, c := range cycles {
		longest = max(longest, c.took)
		if c.recovered {
			recovered++
			kinds[c.database] = append(kinds[c.database], c.recoveredAt-c.killedAt)
		}
	}
	perCycle := took / time.Duration(max(1, len(cycles)))
	r.Figures = []check.Figure{
		{Name: "cycles", Value: float64(n)}, {Name: "recovered", Value: float64(recovered)},
		{Name: "time_per_cycle", Value: durMS(perCycle), Unit: "ms"},
		{Name: "longest_cycle", Value: durMS(longest), Unit: "ms"},
	}
	var parts []string
	for _, db := range []bool{false, true} {
		ds := kinds[db]
		if len(ds) == 0 {
			continue
		}
		name, what := "instance", "accounts instance"
		if db {
			name, what = "database", "etcd"
		}
		slices.Sort(ds)
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		mean := sum / time.Duration(len(ds))
		r.Figures = append(r.Figures,
			check.Figure{Name: name + "_kills", Value: float64(len(ds))},
			check.Figure{Name: name + "_recovery_mean", Value: durMS(mean), Unit: "ms"},
			check.Figure{Name: name + "_recovery_max", Value: durMS(ds[len(ds)-1]), Unit: "ms"})
		parts = append(parts, fmt.Sprintf("%d %s kills recovered in %s mean, %s max", len(ds), what, roundMS(mean), roundMS(ds[len(ds)-1])))
	}
	r.Pass = recovered == n
	if r.Pass {
		r.Message = fmt.Sprintf("all %d cycles recovered (bound %s each): %s; %s per cycle, longest %s", n, bound, strings.Join(parts, ", "), perCycle.Round(100*time.Millisecond), longest.Round(100*time.Millisecond))
		return r
	}
	last := "no cycle ran"
	if len(cycles) > 0 {
		last = cycles[len(cycles)-1].String()
	}
	r.Message = fmt.Sprintf("%d of %d cycles recovered within %s, then %s", recovered, n, bound, last)
	return r
}

// writeLoad is the write load of the kill cycles: kv writes and deposits, two workers
// each, kept running by keep until stop.
type writeLoad struct {
	e    *env
	w    *writes
	dep  *deposits
	runs []*load.Run
}

// keep starts the loads, or starts them again when they reached their duration.
func (l *writeLoad) keep(ctx context.Context) {
	if len(l.runs) > 0 {
		select {
		case <-l.runs[len(l.runs)-1].Done():
		default:
			return // still running
		}
	}
	h := l.e.sys.History()
	for _, c := range []load.Closed{
		{Name: "durable writes", Workers: 2, Op: l.w.op},
		{Name: "deposits", Workers: 2, Op: l.dep.op},
	} {
		c.Duration, c.Seed, c.Think = load.MaxDuration, runSeed()+uint64(len(l.runs)), 20*time.Millisecond
		run, err := load.StartClosed(ctx, h, c)
		Expect(err).NotTo(HaveOccurred())
		l.runs = append(l.runs, run)
	}
}

// writeRoutes are the routes of the write load: its kv writes and its deposits.
var writeRoutes = []string{"durable write", "deposit"}

// stop ends the loads and waits for their last answers; it may be called again.
func (l *writeLoad) stop() {
	for _, r := range l.runs {
		r.Stop()
	}
	for _, r := range l.runs {
		_, err := r.Wait()
		Expect(err).NotTo(HaveOccurred())
	}
}

// writes is a closed-model workload of kv writes, each to a key of its own with its own
// Idempotency-Key (reused by the gateway's retries), so that every acknowledged write
// can be read back on its own: a write is lost when its key does not hold its value.
type writes struct {
	e      *env
	prefix string
	n      atomic.Int64

	mu      sync.Mutex
	acked   map[string]string        // key → value, for every write answered 200
	unknown map[string]int           // writes not acknowledged, by outcome ("5xx:503", "eof")
	last    map[string]time.Duration // the latest acknowledgement, by serving instance ("" for any)
}

func (w *writes) op(ctx context.Context, worker int, _ *rand.Rand) history.Op {
	n := w.n.Add(1)
	key := fmt.Sprintf("%s-%d", w.prefix, n)
	value := fmt.Sprintf("v%d-w%d", n, worker)
	code, body, by, err := exchange(ctx, w.e, http.MethodPut, "/api/accounts/v1/kv/"+key,
		fmt.Sprintf(`{"value":%q}`, value), "Idempotency-Key", key)
	op := history.Op{Route: "durable write", ServedBy: by,
		Input: map[string]string{"op": check.KVWrite, "key": key, "value": value}}
	op.Outcome, op.Class = load.HTTPOutcome(code, err)
	if err != nil {
		op.Err = err.Error()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.acked == nil {
		w.acked, w.last, w.unknown = map[string]string{}, map[string]time.Duration{}, map[string]int{}
	}
	switch {
	case err != nil:
		w.unknown[check.Class(op)]++
	case code == http.StatusOK:
		w.acked[key] = value
		at := w.e.sys.History().Now()
		w.last[by], w.last[""] = at, at
		op.Output = map[string]string{"ok": "true"}
	default:
		w.unknown[check.Class(op)]++
		op.Output = map[string]string{"error": strings.TrimSpace(body)}
	}
	return op
}

// lastAck is when the latest write served by instance ("" for any) was acknowledged, on
// the run's clock, or 0.
func (w *writes) lastAck(instance string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[instance]
}

// readBack reads every acknowledged write's key through the gateway, paced under its
// rate limit, and counts those that do not hold the value written: lost, or (when no
// read got an answer) unreadable; both fail the check.
func (w *writes) readBack(ctx context.Context) check.Result {
	w.mu.Lock()
	acked := make(map[string]string, len(w.acked))
	for k, v := range w.acked {
		acked[k] = v
	}
	unknown := 0
	for _, n := range w.unknown {
		unknown += n
	}
	classes := fmt.Sprint(w.unknown)
	w.mu.Unlock()
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var (
		mu               sync.Mutex
		lost, unreadable []string
		wg               sync.WaitGroup
		next             = make(chan string)
		started          = time.Now()
	)
	// Straight from the accounts instances, each through its own link, rather than
	// through the gateway, whose rate limit per key would pace the reads: what is
	// read back is the store's, whichever way it is asked.
	var urls []string
	for _, inst := range w.e.sys.Instances("accounts") {
		u, err := inst.URL(ctx)
		Expect(err).NotTo(HaveOccurred())
		urls = append(urls, u)
	}
	Expect(urls).NotTo(BeEmpty(), "no accounts instance to read the writes back from")
	note := func(list *[]string, s string) {
		mu.Lock()
		defer mu.Unlock()
		*list = append(*list, s)
	}
	for i := range 4 {
		wg.Go(func() {
			for key := range next {
				got, found, err := readKey(ctx, urls[i%len(urls)], key)
				switch {
				case err != nil:
					note(&unreadable, fmt.Sprintf("%s (%v)", key, err))
				case !found:
					note(&lost, key+" absent")
				case got != acked[key]:
					note(&lost, fmt.Sprintf("%s=%q, want %q", key, got, acked[key]))
				}
			}
		})
	}
	for _, k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	slices.Sort(lost)
	slices.Sort(unreadable)

	r := check.Result{Check: "no acknowledged write lost", Window: check.Window{Name: "after the kill cycles"},
		Bound: "every acknowledged write readable", Figures: []check.Figure{
			{Name: "acknowledged_writes", Value: float64(len(acked))},
			{Name: "lost", Value: float64(len(lost))},
			{Name: "unreadable", Value: float64(len(unreadable))},
			{Name: "unacknowledged", Value: float64(unknown)},
		}}
	r.Pass = len(acked) > 0 && len(lost) == 0 && len(unreadable) == 0
	took := time.Since(started).Round(100 * time.Millisecond)
	switch {
	case len(acked) == 0:
		r.Message = "no write was acknowledged: nothing proves durability"
	case len(lost) > 0:
		r.Message = fmt.Sprintf("%d of %d acknowledged writes are LOST (%d unreadable, %d unacknowledged %s not counted): %s",
			len(lost), len(acked), len(unreadable), unknown, classes, firstFew(lost, 5))
	case len(unreadable) > 0:
		r.Message = fmt.Sprintf("%d of %d acknowledged writes could not be read back, so their durability is unproven: %s",
			len(unreadable), len(acked), firstFew(unreadable, 5))
	default:
		r.Message = fmt.Sprintf("all %d acknowledged writes read back with their values, 0 lost (%d unacknowledged %s not counted; read back in %s)", len(acked), unknown, classes, took)
	}
	return r
}

// readKey reads one kv key from the accounts instance at base, retrying answers that
// say nothing about the key (no answer, 5xx) for up to ten attempts, each later one
// after a longer pause.
func readKey(ctx context.Context, base, key string) (value string, found bool, err error) {
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", false, fmt.Errorf("read %s: %w", key, ctx.Err())
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		code, body, _, xerr := send(ctx, http.MethodGet, base+"/v1/kv/"+key, "")
		switch {
		case xerr != nil:
			err = fmt.Errorf("read %s: %w", key, xerr)
			continue
		case code == http.StatusNotFound:
			return "", false, nil
		case code != http.StatusOK:
			err = fmt.Errorf("read %s: answered %d: %s", key, code, strings.TrimSpace(body))
			continue
		}
		var got struct {
			Value string `json:"value"`
		}
		if jerr := json.Unmarshal([]byte(body), &got); jerr != nil {
			return "", false, fmt.Errorf("read %s: undecodable answer %q: %w", key, body, jerr)
		}
		return got.Value, true, nil
	}
	return "", false, err
}

// firstFew joins the first n of items, saying how many more there are.
func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

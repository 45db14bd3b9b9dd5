package shop_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"example.com/shop"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/modules/etcd"
	"github.com/faultline/faultline/harness/report"
)

// TestTheKVClusterStaysLinearizableWhenItsLeaderIsIsolated is the shop team's
// experiment on its etcd cluster: a recorded kv workload (reads, writes and
// compare-and-sets on a few registers, and appends to a ledger) runs against all three
// members while the leader is cut off from the others by the partition recipe. The
// history must be linearizable (porcupine, the built-in register model), no
// acknowledged append may be lost, and the time until writes are acknowledged again
// after the cut is a figure. The same history checked against a deliberately wrong
// model is not linearizable, and the test follows the report's link to porcupine's
// visualisation of it.
func TestTheKVClusterStaysLinearizableWhenItsLeaderIsIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd cluster: skipped under -short")
	}
	ctx := t.Context()
	decl, err := shop.KV()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := harness.NewRuntime(ctx, "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sys, err := harness.Up(ctx, decl, harness.WithRuntime(rt), harness.WithSeed(experiment.Seed(t)))
	if err != nil {
		t.Fatal(err) // without FAULTLINE_BIN, etcd's server is built from this module's go.mod (its tool line)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	h := sys.History()
	kv := newKVClients(t, sys)

	var leader string
	t.Run("leader isolated", func(t *testing.T) {
		e := experiment.Start(ctx, t, sys, experiment.Config{
			Hypothesis: "the kv cluster stays linearizable and loses no acknowledged write while its leader is isolated",
			Steady: check.Hypothesis{Name: "the members follow one leader", Probes: []check.Probe{{Name: "a leader", Run: func(ctx context.Context) error {
				_, err := kv.leader(ctx)
				return err
			}}}},
		})
		run, err := load.StartClosed(ctx, h, load.Closed{
			Name: "kv", Workers: 4, Duration: 40 * time.Second, Seed: sys.Seed(), Think: 20 * time.Millisecond,
			Ops: []load.Operation{
				{Route: "read", Weight: 3, Do: kv.read},
				{Route: "write", Weight: 2, Do: kv.write},
				{Route: "cas", Weight: 1, Do: kv.cas},
				{Route: "append", Weight: 2, Do: kv.append},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer run.Stop()
		e.HoldSteady(ctx, experiment.Windows{N: 2})

		if leader, err = kv.leader(ctx); err != nil {
			t.Fatal(err)
		}
		peers, err := sys.PeersOn("kv", etcd.PeerPort)
		if err != nil {
			t.Fatal(err)
		}
		cut := e.Apply(ctx, fault.Partition(peers, fault.IsolateOne(leader)))
		time.Sleep(5 * time.Second)
		healStart := h.Now()
		e.Heal(ctx, cut)
		e.AwaitRecovery(ctx, healStart, experiment.Windows{N: 3, Within: 20 * time.Second})
		run.Stop()
		if _, err := run.Wait(); err != nil {
			t.Fatal(err)
		}

		whole := check.Whole(h)
		during := check.Window{Name: "while " + leader + " is isolated", From: cut.InjectedAt(), To: healStart}
		e.Check(check.Linearizable(h, check.Selection{Window: whole}, time.Minute), kv.noLoss(ctx, h))
		e.Figure(writesAgain(h, during, leader))
		// A model that is wrong on purpose (a read sees the first value ever written, not
		// the latest) must not fit the history: the checker can go red, and its
		// visualisation is kept in the report.
		broken := check.LinearizableModel(h, check.Selection{Window: whole}, firstWriteWins, time.Minute)
		e.Check(goesRed(broken))
		e.Figure(broken)
	})

	dir, err := experiment.WriteReport(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	vis := regexp.MustCompile(`<a class="artifact" href="([^"]+)">porcupine visualisation</a>`).FindStringSubmatch(string(page))
	if vis == nil {
		t.Fatalf("the report links no porcupine visualisation of the broken model's check")
	}
	body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(vis[1])))
	if err != nil {
		t.Fatalf("the report's link %s leads nowhere: %v", vis[1], err)
	}
	for _, want := range []string{"<html", "first-write-wins", "isolate " + leader} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the visualisation %s lacks %q", vis[1], want)
		}
	}
}

// goesRed is a check that the checker result r failed, as it must on a model that is
// wrong on purpose.
func goesRed(r check.Result) check.Result {
	return check.Result{Check: "the checker goes red on a wrong model", Window: r.Window, Bound: "not linearizable", Pass: !r.Pass && len(r.Artifacts) > 0,
		Message: "against the first-write-wins register: " + r.Message}
}

// kvClients is the workload's side: one client per member, pinned to it, so that each
// operation goes to the member its worker drew and the history says which one served it.
type kvClients struct {
	names   []string
	clients map[string]*clientv3.Client
	seq     atomic.Int64 // unique values and ledger entries

	mu      sync.Mutex
	written map[string][]string // key → values written to it, for compare-and-sets
}

// keys are the registers the workload reads and writes.
var keys = []string{"r0", "r1", "r2", "r3", "r4", "r5"}

func newKVClients(t *testing.T, sys *harness.Running) *kvClients {
	t.Helper()
	kv := &kvClients{clients: map[string]*clientv3.Client{}, written: map[string][]string{}}
	for _, m := range sys.Instances("kv") {
		l, err := m.Port(etcd.ClientPort)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := l.HostAddr(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		kv.names = append(kv.names, m.Name())
		kv.clients[m.Name()] = c
	}
	return kv
}

// pick draws the member an operation goes to, and bounds the operation by a second.
func (kv *kvClients) pick(ctx context.Context, rng *rand.Rand) (string, *clientv3.Client, context.Context, context.CancelFunc) {
	name := kv.names[rng.IntN(len(kv.names))]
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	return name, kv.clients[name], ctx, cancel
}

// settle maps an etcd client's error onto an outcome: a read that failed did nothing;
// a write that failed may have been committed anyway (its answer was lost), so it is
// unknown.
func settle(op history.Op, err error, effect bool) history.Op {
	if err == nil {
		op.Outcome = history.OK
		return op
	}
	op.Err = err.Error()
	op.Outcome = history.Failed
	if effect {
		op.Outcome = history.Unknown
	}
	if errors.Is(err, context.DeadlineExceeded) {
		op.Class = "timeout"
	}
	return op
}

func (kv *kvClients) read(ctx context.Context, _ int, rng *rand.Rand) history.Op {
	name, c, ctx, cancel := kv.pick(ctx, rng)
	defer cancel()
	key := keys[rng.IntN(len(keys))]
	op := history.Op{ServedBy: name, Input: map[string]string{"op": check.KVRead, "key": key}}
	resp, err := c.Get(ctx, key)
	if err == nil {
		v := ""
		if len(resp.Kvs) > 0 {
			v = string(resp.Kvs[0].Value)
		}
		op.Output = map[string]string{"value": v}
	}
	return settle(op, err, false)
}

func (kv *kvClients) write(ctx context.Context, _ int, rng *rand.Rand) history.Op {
	name, c, ctx, cancel := kv.pick(ctx, rng)
	defer cancel()
	key := keys[rng.IntN(len(keys))]
	value := "v" + strconv.FormatInt(kv.seq.Add(1), 10)
	kv.mu.Lock()
	kv.written[key] = append(kv.written[key], value)
	kv.mu.Unlock()
	op := history.Op{ServedBy: name, Input: map[string]string{"op": check.KVWrite, "key": key, "value": value}}
	_, err := c.Put(ctx, key, value)
	return settle(op, err, true)
}

// cas compares a register with one of the values written to it and swaps in a new
// one; on a register nothing was written to yet, it writes instead.
func (kv *kvClients) cas(ctx context.Context, n int, rng *rand.Rand) history.Op {
	key := keys[rng.IntN(len(keys))]
	kv.mu.Lock()
	vals := kv.written[key]
	from := ""
	if len(vals) > 0 {
		from = vals[max(0, len(vals)-1-rng.IntN(3))] // most often a recent one
	}
	kv.mu.Unlock()
	if from == "" {
		return kv.write(ctx, n, rng)
	}
	name, c, ctx, cancel := kv.pick(ctx, rng)
	defer cancel()
	to := "v" + strconv.FormatInt(kv.seq.Add(1), 10)
	kv.mu.Lock()
	kv.written[key] = append(kv.written[key], to)
	kv.mu.Unlock()
	op := history.Op{ServedBy: name, Input: map[string]string{"op": check.KVCAS, "key": key, "from": from, "to": to}}
	resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", from)).Then(clientv3.OpPut(key, to)).Commit()
	if err == nil {
		op.Output = map[string]string{"ok": strconv.FormatBool(resp.Succeeded)}
	}
	return settle(op, err, true)
}

// append adds an entry of its own to the ledger, which noLoss reads back at the end.
func (kv *kvClients) append(ctx context.Context, _ int, rng *rand.Rand) history.Op {
	name, c, ctx, cancel := kv.pick(ctx, rng)
	defer cancel()
	id := "ledger/" + strconv.FormatInt(kv.seq.Add(1), 10)
	op := history.Op{ServedBy: name, Input: map[string]string{"entry": id}}
	_, err := c.Put(ctx, id, "1")
	return settle(op, err, true)
}

// leader is the member the others follow, as the first member that answers says.
func (kv *kvClients) leader(ctx context.Context) (string, error) {
	var errs []error
	for _, name := range kv.names {
		c := kv.clients[name]
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Status(sctx, c.Endpoints()[0])
		if err == nil && st.Leader != 0 {
			var members *clientv3.MemberListResponse
			if members, err = c.MemberList(sctx); err == nil {
				for _, m := range members.Members {
					if m.ID == st.Leader {
						cancel()
						return m.Name, nil
					}
				}
			}
		}
		cancel()
		errs = append(errs, fmt.Errorf("%s: %v", name, err))
	}
	return "", fmt.Errorf("no member names a leader: %w", errors.Join(errs...))
}

// noLoss reads the whole ledger back through every member in turn (the first that
// answers) and checks that every acknowledged entry is there.
func (kv *kvClients) noLoss(ctx context.Context, h *history.History) check.Result {
	present := map[string]int{}
	var last error
	for _, name := range kv.names {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := kv.clients[name].Get(gctx, "ledger/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		cancel()
		if err != nil {
			last = err
			continue
		}
		for _, k := range resp.Kvs {
			present[string(k.Key)]++
		}
		last = nil
		break
	}
	writes := check.WritesOf(h.Ops(), func(op history.Op) string { return op.Input["entry"] })
	r := check.NoLoss(writes, func(id string) int { return present[id] })
	if last != nil {
		r.Pass = false
		r.Message = "no member answered the ledger's read-back: " + last.Error()
	}
	return r
}

// writesAgain is how long after the cut a write was acknowledged again: the first
// write, compare-and-set or append started after the injection that ended ok, measured
// from the injection to its end.
func writesAgain(h *history.History, during check.Window, isolated string) check.Result {
	r := check.Result{Check: "writes acknowledged again", Window: during}
	first := time.Duration(-1)
	for _, op := range check.Select(h, check.Selection{Window: during, Routes: []string{"write", "cas", "append"}}) {
		if op.Start >= during.From && op.Outcome == history.OK && (first < 0 || op.End < first) {
			first = op.End
		}
	}
	if first < 0 {
		r.Message = "no write was acknowledged after " + isolated + " was cut off"
		return r
	}
	took := first - during.From
	r.Pass = true
	r.Figures = []check.Figure{{Name: "writes_again", Value: float64(took) / float64(time.Millisecond), Unit: "ms"}}
	r.Message = fmt.Sprintf("writes were acknowledged again %s after %s was cut off from the others (from the injection to the first acknowledged write begun after it)", took.Round(time.Millisecond), isolated)
	return r
}

// firstWriteWins is a register model that is wrong on purpose: once a key has been
// written, every read must see that first value.
var firstWriteWins = func() check.Model {
	m := check.KV
	m.Name = "first-write-wins"
	step := m.Porcupine.Step
	m.Porcupine.Step = func(state, input, output any) (bool, any) {
		ok, next := step(state, input, output)
		if s := state.(string); s != "" {
			return ok, s
		}
		return ok, next
	}
	describe := m.Porcupine.DescribeOperation
	m.Porcupine.DescribeOperation = func(input, output any) string { return "first-write-wins " + describe(input, output) }
	return m
}()

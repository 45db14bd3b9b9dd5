package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/modules/etcd"
	"github.com/faultline/faultline/harness/modules/internal/moduletest"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/wait"
)

// errNoEtcd is what a machine without a prebuilt etcd (FAULTLINE_ETCD, which make test
// builds) has: the module would build etcd's server itself, which the tests here do not
// wait for.
var errNoEtcd = errors.New("no prebuilt etcd: FAULTLINE_ETCD is unset (make test builds bin/etcd and sets it)")

// declare is the module's declaration with the prebuilt etcd, or errNoEtcd.
func declare(t *testing.T, f func(opts ...etcd.Option) (harness.Service, error)) (harness.Service, error) {
	t.Helper()
	bin := os.Getenv("FAULTLINE_ETCD")
	if bin == "" {
		return harness.Service{}, errNoEtcd
	}
	return f(etcd.Binary(bin))
}

// client talks to members through their client links, each call bounded by a second.
func client(t *testing.T, members ...*harness.Instance) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, m := range members {
		l, err := m.Port(etcd.ClientPort)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := l.HostAddr(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, addr)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func put(ctx context.Context, c *clientv3.Client, k, v string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := c.Put(ctx, k, v)
	return err
}

// TestASingleMemberIsCutByItsLinkAndKeepsWhatItAcked: the module's single member comes
// up through its link; a refusal on the link fails a write and the heal brings writes
// back; SIGKILLed and restarted by the supervisor, it still holds every acknowledged
// write.
func TestASingleMemberIsCutByItsLinkAndKeepsWhatItAcked(t *testing.T) {
	svc, err := declare(t, func(opts ...etcd.Option) (harness.Service, error) { return etcd.Service("kv", opts...) })
	sys, kv := moduletest.Up(t, svc, err, errNoEtcd)
	ctx := t.Context()
	c := client(t, kv)
	const writes = 50
	for i := range writes {
		if err := put(ctx, c, fmt.Sprintf("k%02d", i), fmt.Sprint(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	sc := fault.ScopeFor(t, sys.History())
	cut, err := sc.Apply(ctx, fault.Refuse(kv.Ingress))
	if err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, c, "during", "cut"); err == nil {
		t.Fatal("a write through the refusing link was acknowledged")
	}
	if err := cut.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := wait.Until(ctx, 15*time.Second, "a write after the heal", func(ctx context.Context) error { return put(ctx, c, "after", "heal") }); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Apply(ctx, fault.Kill(kv)); err != nil {
		t.Fatal(err)
	}
	var got int64
	err = wait.Until(ctx, 30*time.Second, "the restarted member's keys", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err := c.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		got = resp.Count
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != writes {
		t.Fatalf("after SIGKILL and restart the member holds %d of %d acknowledged keys", got, writes)
	}
}

// TestAClusterFromTheModuleIsOneClusterAndItsPartitionsHold: three members from the
// module form one cluster (every member reports the same cluster ID and leader),
// their peer traffic goes through per-pair links, and isolating the leader with the
// partition recipe leaves the other two to elect a new leader and commit writes, while
// a write through the isolated member is not acknowledged; after the heal, all three
// agree again and hold every acknowledged write.
func TestAClusterFromTheModuleIsOneClusterAndItsPartitionsHold(t *testing.T) {
	svc, err := declare(t, func(opts ...etcd.Option) (harness.Service, error) { return etcd.Cluster("kv", 3, opts...) })
	sys, _ := moduletest.Up(t, svc, err, errNoEtcd)
	ctx := t.Context()
	members := sys.Instances("kv")
	if len(members) != 3 {
		t.Fatalf("%d members, want 3", len(members))
	}
	clients := map[string]*clientv3.Client{}
	for _, m := range members {
		clients[m.Name()] = client(t, m)
	}
	// status is what member name says of the cluster, through its own client link.
	type status struct{ cluster, leader uint64 }
	statusOf := func(ctx context.Context, name string) (status, error) {
		l, err := sys.Instance(name).Port(etcd.ClientPort)
		if err != nil {
			return status{}, err
		}
		addr, err := l.HostAddr(ctx)
		if err != nil {
			return status{}, err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		s, err := clients[name].Status(ctx, addr)
		if err != nil {
			return status{}, err
		}
		return status{cluster: s.Header.ClusterId, leader: s.Leader}, nil
	}
	// nameOf asks the member asker for the name of the member id. It must be a member
	// of the side being asked about: an isolated member cannot answer MemberList (it is
	// linearizable), and CI once asked the isolated leader itself.
	nameOf := func(ctx context.Context, asker string, id uint64) string {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err := clients[asker].MemberList(ctx)
		if err != nil {
			return ""
		}
		for _, m := range resp.Members {
			if m.ID == id {
				return m.Name
			}
		}
		return ""
	}
	// agreed waits until the members listed agree on the cluster and on a leader among
	// themselves, and returns that leader's name.
	agreed := func(what string, names ...string) string {
		t.Helper()
		var leader string
		err := wait.Until(ctx, 30*time.Second, what, func(ctx context.Context) error {
			var first status
			for i, n := range names {
				s, err := statusOf(ctx, n)
				if err != nil {
					return fmt.Errorf("%s: %w", n, err)
				}
				if i == 0 {
					first = s
				}
				if s != first || s.leader == 0 {
					return fmt.Errorf("%s reports cluster %x leader %x, %s reports cluster %x leader %x", names[0], first.cluster, first.leader, n, s.cluster, s.leader)
				}
			}
			leader = nameOf(ctx, names[0], first.leader)
			for _, n := range names {
				if n == leader {
					return nil
				}
			}
			return fmt.Errorf("the leader %q is not one of %s", leader, strings.Join(names, ", "))
		})
		if err != nil {
			t.Fatal(err)
		}
		return leader
	}
	leader := agreed("one cluster of kv-1, kv-2 and kv-3", "kv-1", "kv-2", "kv-3")
	// The leader is moved to kv-1 before it is isolated, so that every run isolates the
	// same member: a run that happened to elect kv-1 once failed where the others passed.
	if leader != "kv-1" {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := clients[leader].MemberList(mctx)
		if err == nil {
			var to uint64
			for _, m := range resp.Members {
				if m.Name == "kv-1" {
					to = m.ID
				}
			}
			_, err = clients[leader].MoveLeader(mctx, to)
		}
		cancel()
		if err != nil {
			t.Fatalf("move the leadership from %s to kv-1: %v", leader, err)
		}
		if leader = agreed("kv-1 leads", "kv-1", "kv-2", "kv-3"); leader != "kv-1" {
			t.Fatalf("the leader is %s after the move to kv-1", leader)
		}
	}
	var others []string
	for _, m := range members {
		if m.Name() != leader {
			others = append(others, m.Name())
		}
	}
	acked := 0
	for i := range 20 {
		if err := put(ctx, clients[others[i%2]], fmt.Sprintf("k%02d", acked), "before"); err != nil {
			t.Fatalf("write before the partition: %v", err)
		}
		acked++
	}

	peers, err := sys.PeersOn("kv", etcd.PeerPort)
	if err != nil {
		t.Fatal(err)
	}
	sc := fault.ScopeFor(t, sys.History())
	cut, err := sc.Apply(ctx, fault.Partition(peers, fault.IsolateOne(leader)))
	if err != nil {
		t.Fatal(err)
	}
	newLeader := agreed("a new leader among "+strings.Join(others, " and "), others...)
	if newLeader == leader {
		t.Fatalf("the isolated %s is still the majority's leader", leader)
	}
	for i := range 20 {
		if err := put(ctx, clients[others[i%2]], fmt.Sprintf("k%02d", acked), "during"); err != nil {
			t.Fatalf("a write to the majority during the partition: %v", err)
		}
		acked++
	}
	if err := put(ctx, clients[leader], "minority", "write"); err == nil {
		t.Fatalf("a write through the isolated %s was acknowledged: the partition did not hold", leader)
	}
	if err := cut.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	agreed("one cluster again after the heal", "kv-1", "kv-2", "kv-3")
	for _, m := range members {
		var n int64
		err := wait.Until(ctx, 15*time.Second, m.Name()+"'s keys", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			resp, err := clients[m.Name()].Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				return err
			}
			if n = resp.Count; n != int64(acked) {
				return fmt.Errorf("%d keys", n)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s holds %d of %d acknowledged keys after the heal: %v", m.Name(), n, acked, err)
		}
	}
}

// dockerRuntime is the docker runtime, or a skip where no engine answers.
func dockerRuntime(t *testing.T) runtime.Runtime {
	t.Helper()
	if testing.Short() {
		t.Skip("starts containers: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if os.Getenv("FAULTLINE_RUNTIME") == "local" || !docker.Available(ctx) {
		t.Skip("no docker engine answers (or FAULTLINE_RUNTIME=local)")
	}
	rt, err := harness.NewRuntime(t.Context(), "docker", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// TestOnDockerAMemberAndAClusterRunFromTheBinary: on docker a single member and a
// three-member cluster run from the same static binary, wrapped in a scratch image; the
// cluster's members reach each other by name through the peer routers in the run's
// proxy container, and isolating one of them still cuts it off: a write through it is
// not acknowledged while the other two commit.
func TestOnDockerAMemberAndAClusterRunFromTheBinary(t *testing.T) {
	single, err := declare(t, func(opts ...etcd.Option) (harness.Service, error) { return etcd.Service("one", opts...) })
	if errors.Is(err, errNoEtcd) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := declare(t, func(opts ...etcd.Option) (harness.Service, error) { return etcd.Cluster("kv", 3, opts...) })
	if err != nil {
		t.Fatal(err)
	}
	rt := dockerRuntime(t)
	ctx := t.Context()
	sys, err := harness.Up(ctx, harness.System{Name: "kv", Services: []harness.Service{single, cluster}}, harness.WithRuntime(rt), harness.WithStartTimeout(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	if err := put(ctx, client(t, sys.Instance("one-1")), "k", "v"); err != nil {
		t.Fatalf("put on the single member: %v", err)
	}
	members := sys.Instances("kv")
	c := client(t, members...)
	if err := wait.Until(ctx, 30*time.Second, "a write to the cluster", func(ctx context.Context) error { return put(ctx, c, "k", "v") }); err != nil {
		t.Fatal(err)
	}
	peers, err := sys.PeersOn("kv", etcd.PeerPort)
	if err != nil {
		t.Fatal(err)
	}
	sc := fault.ScopeFor(t, sys.History())
	if _, err := sc.Apply(ctx, fault.Partition(peers, fault.IsolateOne("kv-3"))); err != nil {
		t.Fatal(err)
	}
	majority := client(t, sys.Instance("kv-1"), sys.Instance("kv-2"))
	if err := wait.Until(ctx, 30*time.Second, "a write to the majority", func(ctx context.Context) error { return put(ctx, majority, "k", "during") }); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, client(t, sys.Instance("kv-3")), "minority", "write"); err == nil {
		t.Fatal("a write through the isolated kv-3 was acknowledged on docker: the partition did not hold")
	}
}

// TestAdvertiseOwnAddressHandsASingleMemberNoLink: by default a single member advertises
// its ingress link (and so is handed it, and waits for the proxy host); with
// AdvertiseOwnAddress it advertises its own address and is handed no link at all.
func TestAdvertiseOwnAddressHandsASingleMemberNoLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []etcd.Option
		links []string
	}{
		{"through its link", nil, []string{"kv-1"}},
		{"its own address", []etcd.Option{etcd.AdvertiseOwnAddress()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv, err := etcd.Service("kv", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			p, err := harness.System{Name: "s", Services: []harness.Service{kv}}.Plan()
			if err != nil {
				t.Fatal(err)
			}
			in, _ := p.Instance("kv-1")
			if !slices.Equal(in.Links, tc.links) {
				t.Errorf("kv-1 is handed %v, want %v", in.Links, tc.links)
			}
		})
	}
}

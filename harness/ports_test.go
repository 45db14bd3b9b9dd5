package harness_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
)

// TestNamedPortsGetALinkEachOnEveryRuntime brings up a three-node cluster of the test
// service with three ports — http (Port), peer and admin — whose peers call each other
// on http and peer. Each port of each instance answers through its own ingress link;
// each ordered pair of peers has a link per peer port, pointed at that port; an
// isolation on the peer port leaves the http port's peer links alone; and an unknown
// port name is an error listing the known ones.
func TestNamedPortsGetALinkEachOnEveryRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	for name, newRT := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rt := newRT(t)
			sys, err := harness.Up(ctx, harness.System{Name: "ports", Services: []harness.Service{{
				Name: "node", Source: harness.Source{Binary: art.Binary}, Replicas: 3,
				Port:  8080,
				Ports: harness.Ports{{Name: "peer", Port: 9001}, {Name: "admin", Port: 9002}},
				Env: map[string]string{"DATA_DIR": "{{datadir}}",
					"LISTEN_MORE": "{{listen:peer}},{{listen:admin}}"},
				Cluster: &harness.Cluster{Ports: []string{"http", "peer"}},
			}}}, harness.WithRuntime(rt))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sys.Down(context.Background()) })
			client := &http.Client{Timeout: 5 * time.Second}
			get := func(l interface {
				HostAddr(context.Context) (string, error)
			}, path string) string {
				addr, err := l.HostAddr(ctx)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Get("http://" + addr + path)
				if err != nil {
					return err.Error()
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return string(b)
			}
			for _, in := range sys.All() {
				if got := strings.Join(in.PortNames(), ","); got != "http,peer,admin" {
					t.Errorf("%s's ports are %s, want http,peer,admin", in.Name(), got)
				}
				if l, err := in.Port("http"); err != nil || l != in.Ingress {
					t.Errorf("%s.Port(http) = %v, %v; want its Ingress", in.Name(), l, err)
				}
				for _, port := range []string{"peer", "admin"} {
					l, err := in.Port(port)
					if err != nil {
						t.Fatal(err)
					}
					want, err := in.Instance.(runtime.PortAddrs).PortNetAddr(port)
					if err != nil {
						t.Fatal(err)
					}
					if l.Upstream() != want {
						t.Errorf("%s's %s link points at %s, want the port's %s", in.Name(), port, l.Upstream(), want)
					}
					_, wantPort, _ := net.SplitHostPort(want)
					if got := get(l, "/listener"); got != wantPort {
						t.Errorf("through %s's %s link the request came in on port %q, want %s", in.Name(), port, got, wantPort)
					}
				}
			}
			_, err = sys.Instance("node-1").Port("metrics")
			oneProblem(t, err, "node-1", `"metrics"`, "http, peer, admin")

			peer, err := sys.PeersOn("node", "peer")
			if err != nil {
				t.Fatal(err)
			}
			onHTTP := sys.Peers("node")
			if len(peer) != 6 || len(onHTTP) != 6 {
				t.Fatalf("%d peer links on peer and %d on http, want 6 each (3×2 ordered pairs)", len(peer), len(onHTTP))
			}
			for pair, l := range peer {
				want, _ := sys.Instance(pair[1]).Instance.(runtime.PortAddrs).PortNetAddr("peer")
				if l.Upstream() != want || l == onHTTP[pair] {
					t.Errorf("%s → %s on peer points at %s, want %s on a link of its own", pair[0], pair[1], l.Upstream(), want)
				}
			}
			_, err = sys.PeersOn("node", "admin")
			oneProblem(t, err, `"admin"`, "http, peer", "cluster.ports")

			reach := func(from string, l interface{ NetAddr() string }) bool {
				in := sys.Instance(from)
				return get(in.Ingress, "/fetch?addr="+l.NetAddr()) == "200"
			}
			sc := fault.ScopeFor(t, sys.History())
			cut, err := sc.Apply(ctx, fault.Partition(peer, fault.IsolateOne("node-1"), fault.Refusing()))
			if err != nil {
				t.Fatal(err)
			}
			a, b := [2]string{"node-1", "node-2"}, [2]string{"node-2", "node-3"}
			if reach("node-1", peer[a]) || !reach("node-2", peer[b]) || !reach("node-1", onHTTP[a]) {
				t.Errorf("isolating node-1 on the peer port: node-1→node-2 peer %t (want false), node-2→node-3 peer %t, node-1→node-2 http %t (want true)",
					reach("node-1", peer[a]), reach("node-2", peer[b]), reach("node-1", onHTTP[a]))
			}
			if err := cut.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			if !reach("node-1", peer[a]) {
				t.Error("node-1 cannot reach node-2 on peer after the heal")
			}
		})
	}
}

// TestPeersAreOnTheClustersFirstPort: a cluster whose peers call each other only on a
// named port has its Peers there, not on the main port.
func TestPeersAreOnTheClustersFirstPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	sys, err := harness.Up(context.Background(), harness.System{Name: "peers", Services: []harness.Service{{
		Name: "node", Source: harness.Source{Binary: art.Binary}, Replicas: 2,
		Ports:   harness.Ports{{Name: "http", Port: 8080}, {Name: "peer", Port: 9001}},
		Env:     map[string]string{"LISTEN_MORE": "{{listen:peer}}"},
		Cluster: &harness.Cluster{Ports: []string{"peer"}},
	}}}, harness.WithRuntime(quietLocal(t)), harness.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	peers := sys.Peers("node")
	if len(peers) != 2 {
		t.Fatalf("%d peer links, want 2", len(peers))
	}
	for pair, l := range peers {
		want, _ := sys.Instance(pair[1]).Instance.(runtime.PortAddrs).PortNetAddr("peer")
		if l.Upstream() != want {
			t.Errorf("%s → %s points at %s, want its peer port %s", pair[0], pair[1], l.Upstream(), want)
		}
	}
	if _, err := sys.PeersOn("node", "http"); err == nil {
		t.Error("PeersOn the http port, on which the peers have no links: no error")
	}
}

package harness_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
)

// TestClusterPeersGetALinkPerOrderedPair declares a three-node cluster of the test
// service and shows that each node learns its peers' addresses, and that isolating one
// node cuts exactly its links while the other pairs still talk: with each peer's own
// link handed to it (PEERS), and by name (Cluster.ByName), where every node calls a peer
// by the same "node-2:8080" and its peer proxy sends that to its own link.
func TestClusterPeersGetALinkPerOrderedPair(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	for _, tc := range []struct {
		name    string
		cluster harness.Cluster
		// peersEnv is node-1's PEERS, and addr the address from calls to at.
		peersEnv func(peers map[[2]string]*netfault.Link) string
		addr     func(peers map[[2]string]*netfault.Link, from, to string) string
	}{
		{
			name: "each peer's own link", cluster: harness.Cluster{},
			peersEnv: func(peers map[[2]string]*netfault.Link) string {
				return "node-2=" + peers[[2]string{"node-1", "node-2"}].NetAddr() + ",node-3=" + peers[[2]string{"node-1", "node-3"}].NetAddr()
			},
			addr: func(peers map[[2]string]*netfault.Link, from, to string) string {
				return peers[[2]string{from, to}].NetAddr()
			},
		},
		{
			name: "by name", cluster: harness.Cluster{ByName: true},
			peersEnv: func(map[[2]string]*netfault.Link) string { return "node-2=node-2:8080,node-3=node-3:8080" },
			addr:     func(_ map[[2]string]*netfault.Link, _, to string) string { return to + ":8080" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rt, err := local.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(context.Background()) })
			cluster := tc.cluster
			sys, err := harness.Up(ctx, harness.System{Name: "cluster", Services: []harness.Service{{
				Name: "node", Source: harness.Source{Binary: art.Binary}, Replicas: 3, Port: 8080,
				Env:     map[string]string{"DATA_DIR": "{{datadir}}"},
				Cluster: &cluster,
			}}}, harness.WithRuntime(rt))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sys.Down(context.Background()) })
			peers := sys.Peers("node")
			if len(peers) != 6 {
				t.Fatalf("%d peer links, want 6 (3×2 ordered pairs)", len(peers))
			}
			client := &http.Client{Timeout: 5 * time.Second}
			call := func(from, path string) string {
				base, err := sys.Instance(from).URL(ctx)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Get(base + path)
				if err != nil {
					return err.Error()
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return string(b)
			}
			var info struct{ Env []string }
			if err := json.Unmarshal([]byte(call("node-1", "/info")), &info); err != nil {
				t.Fatal(err)
			}
			if want := "PEERS=" + tc.peersEnv(peers); !slices.Contains(info.Env, want) {
				t.Fatalf("node-1's environment lacks %q: %v", want, info.Env)
			}
			reach := func(from, to string) bool {
				return call(from, "/fetch?addr="+tc.addr(peers, from, to)) == "200"
			}
			for pair := range peers {
				if !reach(pair[0], pair[1]) {
					t.Fatalf("%s cannot reach %s before any fault", pair[0], pair[1])
				}
			}
			sc := fault.ScopeFor(t, sys.History())
			cut, err := sc.Apply(ctx, fault.Partition(peers, fault.IsolateOne("node-1"), fault.Refusing()))
			if err != nil {
				t.Fatal(err)
			}
			for pair := range peers {
				isolated := pair[0] == "node-1" || pair[1] == "node-1"
				if got := reach(pair[0], pair[1]); got == isolated {
					t.Errorf("%s → %s reachable=%t during IsolateOne(node-1)", pair[0], pair[1], got)
				}
			}
			if err := cut.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			for pair := range peers {
				if !reach(pair[0], pair[1]) {
					t.Errorf("%s cannot reach %s after heal", pair[0], pair[1])
				}
			}
		})
	}
}

package harness_test

import (
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
)

// TestClusterFixtureLoadsAndPlans: fixtures/cluster.yaml, a clustered server declared
// as a user would, loads strictly and plans to what its comments promise.
func TestClusterFixtureLoadsAndPlans(t *testing.T) {
	sys, err := harness.LoadFile("../fixtures/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Stages(), [][]string{{"kv-1", "kv-2", "kv-3"}, {"app-1", "app-2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("stages = %v, want %v: the peers together, then what depends on them", got, want)
	}
	kv, _ := p.Instance("kv-1")
	if want := "kv-2=" + harness.LinkRef("kv-1.kv-2_peer") + ",kv-3=" + harness.LinkRef("kv-1.kv-3_peer"); kv.Env["KV_PEERS"] != want {
		t.Errorf("KV_PEERS = %q, want %q", kv.Env["KV_PEERS"], want)
	}
	if kv.Env["KV_LISTEN_CLIENT"] != "{{listen}}" || kv.Env["KV_LISTEN_PEER"] != "{{listen:peer}}" || kv.Env["KV_NAME"] != "kv-1" ||
		kv.Env["KV_ADVERTISE_CLIENT"] != harness.LinkRef("kv-1") {
		t.Errorf("kv-1's environment = %v", kv.Env)
	}
	wantArgs := []string{"--name=kv-1", "--join=" + harness.LinkRef("kv-1.kv-2_peer") + "," + harness.LinkRef("kv-1.kv-3_peer"), "--listen-peer={{listen:peer}}"}
	if !slices.Equal(kv.Args, wantArgs) {
		t.Errorf("kv-1's arguments = %q, want %q", kv.Args, wantArgs)
	}
	if kv.Health != "" || kv.StartTimeout != 2*time.Minute || kv.Ready == nil || len(kv.Ready.All) != 2 {
		t.Errorf("kv-1 readiness: runtime health %q, timeout %s, strategy %v", kv.Health, kv.StartTimeout, kv.Ready)
	}
	var peerLinks, kvIngress int
	for _, l := range p.Links {
		switch {
		case l.Port == "peer" && l.Parked:
			peerLinks++
		case l.To == l.Name || l.Name == l.To+"_peer" || l.Name == l.To+"_metrics":
			kvIngress++
		}
	}
	// 3 kv instances × 3 ports and 2 app instances × 1 port; 3 × 2 ordered pairs on peer.
	if peerLinks != 6 || kvIngress != 3*3+2 {
		t.Errorf("%d parked peer links and %d ingress links, want 6 and 11:\n%s", peerLinks, kvIngress, p)
	}
	if l, _ := p.Link("app-1.kv"); l.To != "kv-1" || l.Port != "client" {
		t.Errorf("app-1.kv reaches %s's %s, want kv-1's client", l.To, l.Port)
	}
}

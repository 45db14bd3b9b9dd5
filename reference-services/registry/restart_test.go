package registry_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/registry/registrytest"
)

func TestRestartKeepsLiveLeasesAndDropsLapsedOnes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s := registrytest.Start(t, path)
	live := register(t, s, inst("accounts", "accounts-1"), time.Minute)
	short := register(t, s, inst("accounts", "accounts-2"), 500*time.Millisecond)
	register(t, s, inst("orders", "orders-1"), 500*time.Millisecond)
	s.Stop()

	// Down for longer than the short leases: they lapse while nobody is looking.
	time.Sleep(time.Until(short.ExpiresAt) + 50*time.Millisecond)
	s = registrytest.Start(t, path)

	snap := list(t, s, "accounts")
	if got := ids(snap); len(got) != 1 || got[0] != "accounts-1" {
		t.Fatalf("after restart accounts = %v, want [accounts-1] (accounts-2's lease lapsed while down)", got)
	}
	if snap.Index <= short.Index {
		t.Errorf("accounts index %d after a lease lapsed while down, want > %d", snap.Index, short.Index)
	}
	services, err := s.Client.Services(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(services.Services) != 1 || services.Services[0] != "accounts" {
		t.Errorf("services after restart %v, want [accounts]", services.Services)
	}
	// The surviving lease is the one granted before the restart, and renews.
	hb, err := s.Client.Heartbeat(ctx(t), "accounts", "accounts-1")
	if err != nil {
		t.Fatalf("heartbeat after restart: %v", err)
	}
	if hb.TTL() != live.TTL() {
		t.Errorf("lease after restart %s, want the one granted before, %s", hb.TTL(), live.TTL())
	}
	if got := snap.Instances[0]; got.Address != inst("accounts", "accounts-1").Address || got.Meta["zone"] != "a" {
		t.Errorf("after restart accounts-1 = %+v, want its address and meta kept", got)
	}
}

func TestIndexNeverGoesBackwardsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	var last uint64
	for round := range 3 {
		s := registrytest.Start(t, path)
		services, err := s.Client.Services(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if services.Index < last {
			t.Fatalf("round %d: index %d after restart, below %d before it", round, services.Index, last)
		}
		// A watcher from before the restart still blocks: its index is not ahead.
		if round > 0 {
			began := time.Now()
			if _, err := s.Client.Instances(ctx(t), "accounts", list(t, s, "accounts").Index, 300*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(began); took < 300*time.Millisecond {
				t.Errorf("round %d: a blocking query answered after %s, before its wait: the index looks reset", round, took)
			}
		}
		in := inst("accounts", "accounts-1")
		in.Address = fmt.Sprintf("127.0.0.1:%d", 9000+round) // a changed instance each round
		lease := register(t, s, in, time.Minute)
		if lease.Index <= last {
			t.Fatalf("round %d: register got index %d, not above %d", round, lease.Index, last)
		}
		if err := s.Client.Deregister(ctx(t), "accounts", "accounts-1"); err != nil {
			t.Fatal(err)
		}
		after := list(t, s, "accounts")
		if after.Index <= lease.Index {
			t.Fatalf("round %d: deregister left index %d, want > %d", round, after.Index, lease.Index)
		}
		last = after.Index
		s.Stop()
	}
}

package registry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry"
)

func TestLeaseLapsesWithoutHeartbeat(t *testing.T) {
	s := start(t, registry.WithTTL(400*time.Millisecond))
	lease := register(t, s, inst("accounts", "accounts-1"), 0)
	register(t, s, inst("accounts", "accounts-2"), time.Minute) // outlives the test
	if lease.TTL() != 400*time.Millisecond {
		t.Fatalf("granted %s, want the registry's default 400ms", lease.TTL())
	}

	// Listed until its lease lapses: a list answered while the client's clock is still
	// before the expiry must show it.
	for time.Now().Before(lease.ExpiresAt) {
		snap := list(t, s, "accounts")
		if !has(snap, "accounts-1") && time.Now().Before(lease.ExpiresAt) {
			t.Fatalf("accounts-1 gone before its lease lapsed at %s", lease.ExpiresAt)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var after discovery.Snapshot
	eventually(t, "evicted", func() bool {
		after = list(t, s, "accounts")
		return !has(after, "accounts-1")
	})
	if !has(after, "accounts-2") {
		t.Errorf("eviction of accounts-1 took accounts-2 along: %v", ids(after))
	}
	if after.Index <= lease.Index {
		t.Errorf("index %d after the eviction, want > %d: an eviction is a change", after.Index, lease.Index)
	}
	if _, err := s.Client.Heartbeat(ctx(t), "accounts", "accounts-1"); !errors.Is(err, discovery.ErrUnknownInstance) {
		t.Errorf("heartbeat after eviction: err = %v, want ErrUnknownInstance", err)
	}
	eventually(t, "counted as an eviction", func() bool {
		return metric(t, s, `registry_evictions_total{service="accounts"}`) == 1
	})
	if got := metric(t, s, `registry_instances{service="accounts"}`); got != 1 {
		t.Errorf("registry_instances{accounts} = %g, want 1", got)
	}
}

func TestHeartbeatKeepsTheLeaseAlive(t *testing.T) {
	s := start(t)
	first := register(t, s, inst("accounts", "accounts-1"), time.Second)
	time.Sleep(300 * time.Millisecond)
	renewed, err := s.Client.Heartbeat(ctx(t), "accounts", "accounts-1")
	if err != nil {
		if errors.Is(err, discovery.ErrUnknownInstance) && time.Now().After(first.ExpiresAt) {
			t.Skip("the machine is too loaded: the heartbeat came after the lease lapsed")
		}
		t.Fatalf("heartbeat: %v", err)
	}
	// Past the first lease's expiry, the renewed one still holds it.
	time.Sleep(time.Until(first.ExpiresAt) + 100*time.Millisecond)
	snap := list(t, s, "accounts")
	if !has(snap, "accounts-1") && time.Now().Before(renewed.ExpiresAt) {
		t.Fatalf("accounts-1 evicted at %s although its renewed lease runs to %s", time.Now().Format(time.StampMilli), renewed.ExpiresAt.Format(time.StampMilli))
	}
}

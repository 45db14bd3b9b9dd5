package discovery_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry/registrytest"
)

func TestKeeperRegistersHeartbeatsAndDeregisters(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	k := discovery.NewKeeper(s.Client, inst("accounts-1"),
		discovery.WithTTL(time.Minute), discovery.WithHeartbeat(100*time.Millisecond), discovery.WithLogger(registrytest.Logger(t)))
	stop := runKeeper(t, k)

	eventually(t, "registered", func() bool { return listed(t, s, "accounts-1") })
	eventually(t, "heartbeating", func() bool {
		return metric(t, s, `registry_heartbeats_total{result="ok",service="accounts"}`) >= 3
	})
	stop()
	// The lease has a minute to run: only a deregister explains its going now.
	if listed(t, s, "accounts-1") {
		t.Fatal("still listed after the keeper's context ended")
	}
	if got := metric(t, s, `registry_deregistrations_total{service="accounts"}`); got != 1 {
		t.Errorf("deregistrations %g, want 1", got)
	}
}

func TestKeeperRegistersAgainWhenTheRegistryForgets(t *testing.T) {
	cases := []struct {
		name string
		// forget makes the registry forget the instance and returns the registry to
		// watch from then on.
		forget func(t *testing.T, s *registrytest.Server) *registrytest.Server
	}{
		{"deregistered behind its back", func(t *testing.T, s *registrytest.Server) *registrytest.Server {
			if err := s.Client.Deregister(ctx(t), "accounts", "accounts-1"); err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"registry restarted on a fresh file at the same address", func(t *testing.T, s *registrytest.Server) *registrytest.Server {
			s.Stop()
			return registrytest.StartAt(t, s.Addr, dbPath(t))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := registrytest.Start(t, dbPath(t))
			k := discovery.NewKeeper(discovery.NewClient(s.Addr), inst("accounts-1"),
				discovery.WithTTL(time.Minute), discovery.WithHeartbeat(100*time.Millisecond), discovery.WithLogger(registrytest.Logger(t)))
			runKeeper(t, k)
			eventually(t, "registered", func() bool { return listed(t, s, "accounts-1") })

			s = tc.forget(t, s)
			eventually(t, "registered again", func() bool { return listed(t, s, "accounts-1") })
		})
	}
}

func TestKeeperKeepsItsLeaseAcrossARestartOnTheSameFile(t *testing.T) {
	path := dbPath(t)
	s := registrytest.Start(t, path)
	k := discovery.NewKeeper(discovery.NewClient(s.Addr), inst("accounts-1"),
		discovery.WithTTL(time.Minute), discovery.WithHeartbeat(100*time.Millisecond), discovery.WithLogger(registrytest.Logger(t)))
	runKeeper(t, k)
	eventually(t, "registered", func() bool { return listed(t, s, "accounts-1") })

	s.Stop()
	s = registrytest.StartAt(t, s.Addr, path)
	if !listed(t, s, "accounts-1") {
		t.Fatal("the restarted registry forgot a live lease")
	}
	eventually(t, "heartbeating the restarted registry", func() bool {
		return metric(t, s, `registry_heartbeats_total{result="ok",service="accounts"}`) >= 2
	})
	if got := metric(t, s, `registry_registrations_total{service="accounts"}`); got != 0 {
		t.Errorf("the keeper registered %g times with a registry that still knew it, want 0", got)
	}
}

func TestKeeperWithoutReregisterStaysGone(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	k := discovery.NewKeeper(s.Client, inst("accounts-1"), discovery.WithReregister(false),
		discovery.WithTTL(time.Minute), discovery.WithHeartbeat(100*time.Millisecond), discovery.WithLogger(registrytest.Logger(t)))
	runKeeper(t, k)
	eventually(t, "registered", func() bool { return listed(t, s, "accounts-1") })
	if err := s.Client.Deregister(ctx(t), "accounts", "accounts-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "told it is unknown", func() bool {
		return metric(t, s, `registry_heartbeats_total{result="unknown",service="accounts"}`) >= 3
	})
	if listed(t, s, "accounts-1") {
		t.Error("registered again with re-registration off")
	}
}

func TestKeeperHeartbeatsWithinAShortLease(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	// Asked to heartbeat every second on a 600ms lease: it must renew more often, or
	// every heartbeat finds the lease lapsed.
	k := discovery.NewKeeper(s.Client, inst("accounts-1"),
		discovery.WithTTL(600*time.Millisecond), discovery.WithHeartbeat(time.Second), discovery.WithLogger(registrytest.Logger(t)))
	runKeeper(t, k)
	eventually(t, "renewing its lease", func() bool {
		return metric(t, s, `registry_heartbeats_total{result="ok",service="accounts"}`) >= 3
	})
}

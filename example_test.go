package faultline_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/reference"
)

// exampleScenario is the README's complete scenario, kept here so that it compiles.
func exampleScenario() {
	It("serves 99% of accounts requests while one instance is dead", func(ctx SpecContext) {
		sys, err := reference.Up(ctx) // docker when an engine answers, else local processes
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sys.Down)
		h := sys.History()

		run, err := load.StartOpen(ctx, h, load.Open{Name: "accounts", Base: reference.GatewayURL(sys),
			Rate: 50, Duration: 15 * time.Second, Header: http.Header{"X-Api-Key": {reference.APIKey}},
			Requests: []load.Request{{Route: "accounts", Path: "/api/accounts/v1/accounts"}}})
		Expect(err).NotTo(HaveOccurred())

		sc := fault.NewScope(h, nil)
		DeferCleanup(sc.HealAll) // every fault healed, pass, fail or panic
		time.Sleep(3 * time.Second)
		kill, err := sc.Apply(ctx, fault.Kill(sys.Instance("accounts-1"), fault.HoldDown(sys.Supervisor())))
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(8 * time.Second)
		Expect(kill.Heal(ctx)).To(Succeed())
		run.Wait()

		Expect(faultline.During(h, kill).On("accounts")).To(faultline.BeAvailable(0.99))
	})
}

// exampleFaults is the README's tour of the fault kinds, kept here so that it compiles.
func exampleFaults(t *testing.T) {
	ctx := context.Background()
	sys, _ := reference.Up(ctx)
	defer sys.Down(ctx)
	sc := fault.ScopeFor(t, sys.History()) // heals everything at the end of the test
	a1 := sys.Instance("accounts-1")
	sc.Apply(ctx, fault.Latency(a1.Ingress, 200*time.Millisecond, fault.Jitter(20*time.Millisecond)))
	sc.Apply(ctx, fault.Refuse(a1.Ingress))                              // connections refused
	sc.Apply(ctx, fault.BlackHole(a1.Ingress))                           // connections hang
	sc.Apply(ctx, fault.OneWayCut(a1.Ingress, netfault.Upstream))        // requests lost, answers flow
	sc.Apply(ctx, fault.HTTPError(a1.Ingress, 503, fault.Fraction(0.3))) // per request, seeded
	toRegistry, _ := a1.LinkTo("registry")
	sc.Apply(ctx, fault.PartitionFromDependency(toRegistry, "registry"))        // evicted, re-registers on heal
	sc.Apply(ctx, fault.Latency(sys.Database("accounts").Ingress, time.Second)) // slow database
	sc.Apply(ctx, fault.Pause(a1))                                              // frozen (SIGSTOP / docker pause)
	sc.Apply(ctx, fault.Kill(a1))                                               // SIGKILL; the supervisor restarts it
	sc.Apply(ctx, fault.NetworkDisconnect(a1))                                  // docker network disconnect
}

var _ = exampleScenario
var _ = exampleFaults

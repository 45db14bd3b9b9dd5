package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
)

// failover: kill one of two accounts instances under load, held down so that the
// supervisor does not hide the loss; the gateway fails over to its sibling.
var failover = scenario{
	hypothesis: "failover: with one of two accounts instances killed, at least 99% of accounts requests are served and its traffic moves to the sibling",
	labels:     []string{"failover"},
	body: func(ctx SpecContext, e *env, x *experiment.Experiment) {
		h := e.sys.History()
		run := e.drive(ctx, "failover", 50, time.Minute, readAccounts)
		steadyFrom := x.HoldSteady(ctx, steadyOn(0.99, "accounts"))

		victim := e.sys.Instance("accounts-1")
		kill, err := x.Scope().Apply(ctx, fault.Kill(victim, fault.HoldDown(e.sys.Supervisor())))
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(6 * time.Second)
		Expect(kill.Heal(ctx)).To(Succeed())
		healStart, _ := kill.HealStartedAt()
		x.AwaitRecovery(ctx, healStart, steadyOn(0.99, "accounts"))
		stopLoads(run)

		during := faultline.During(h, kill).On("accounts")
		x.Check(
			// From the steady windows on: the load's first answers, while it opens its
			// connections, say nothing of the system before the kill.
			check.Availability(h, faultline.Between(h, "before "+kill.String(), steadyFrom, kill.InjectedAt()).On("accounts").Selection(), 0.99),
			check.Availability(h, during.Selection(), 0.99),
			check.Failover(h, during.Selection(), victim.Name(), 3*time.Second),
			// Reported, not judged: the gateway's retries may hide the kill from every
			// client, which is the point of failover, so an unfelt kill is no failure.
			check.Informative(check.Detect(h, during.Selection(), 0)),
		)
	},
}

package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/fault"
)

// failover: kill one of two accounts instances under load (held down, so that the
// supervisor does not hide the loss); the gateway fails over to its sibling.
func failover(e *env) {
	It("keeps at least 99% of accounts requests served when one of two instances is killed, moving its traffic to the sibling", Label("failover"), func(ctx SpecContext) {
		e.mustBeSteady(ctx, "before")
		h := e.sys.History()
		run := e.drive(ctx, "failover", 50, 12*time.Second, readAccounts)
		time.Sleep(3 * time.Second)

		victim := e.sys.Instance("accounts-1")
		sc := e.scope()
		kill, err := sc.Apply(ctx, fault.Kill(victim, fault.HoldDown(e.sys.Supervisor())))
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(6 * time.Second)
		Expect(kill.Heal(ctx)).To(Succeed())
		_, err = run.Wait()
		Expect(err).NotTo(HaveOccurred())

		during := faultline.During(h, kill).On("accounts")
		Expect(faultline.Before(h, kill).On("accounts")).To(faultline.BeAvailable(0.99))
		Expect(during).To(faultline.BeAvailable(0.99))
		fo := check.Failover(h, during.Selection(), victim.Name(), 0)
		AddReportEntry("failover", fo.String()+"\n"+check.Detect(h, during.Selection()).String())
		Expect(fo).To(faultline.FailOverWithin(3 * time.Second))
		e.mustBeSteady(ctx, "after")
	})
}

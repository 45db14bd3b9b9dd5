package experiment_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/report"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
)

// TestUnderGinkgo runs an experiment inside a Ginkgo It, with GinkgoT() for its test:
// Start's cleanup is a DeferCleanup, its checks judge the spec, and the suite's
// ReportAfterSuite writes the report.
func TestUnderGinkgo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process: skipped under -short")
	}
	testsvc = conformance.BuildTestService(t).Binary
	RegisterFailHandler(Fail)
	RunSpecs(t, "experiment under Ginkgo")
}

// testsvc is the test service's binary, built before the suite runs.
var testsvc string

var ginkgoReport = filepath.Join(os.TempDir(), "faultline-experiment-ginkgo-report")

var _ = Describe("an experiment in a Ginkgo suite", func() {
	It("heals its fault, checks the steady state again and records itself", func(ctx SpecContext) {
		rt, err := local.New()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = rt.Close(context.Background()) })
		sys, err := harness.Up(ctx, harness.System{Name: "gk", Services: []harness.Service{{
			Name: "svc", Source: harness.Source{Binary: testsvc}, Env: map[string]string{"DATA_DIR": "{{datadir}}"},
		}}}, harness.WithRuntime(rt), harness.WithSeed(experiment.Seed(GinkgoT())))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = sys.Down(context.Background()) })

		var slow *fault.Active
		DeferCleanup(func() {
			// Registered before Start, so it runs after the experiment's own cleanup
			// (DeferCleanup runs last-registered first): the fault left applied is healed.
			_, healed := slow.HealedAt()
			Expect(healed).To(BeTrue(), "the experiment's end heals what it applied")
		})
		e := experiment.Start(ctx, GinkgoT(), sys, experiment.Config{
			Hypothesis: "the service answers under Ginkgo while its link is slow",
			Steady:     check.Hypothesis{Name: "holds", Probes: []check.Probe{holds}},
		})
		slow = e.Apply(ctx, fault.Latency(sys.Instance("svc-1").Ingress, 20*time.Millisecond))
		e.Check(check.Hypothesis{Name: "holds", Probes: []check.Probe{holds}}.Verify(ctx, "during"))
	})
})

var _ = ReportAfterSuite("faultline report", func(Report) {
	dir, err := experiment.WriteReport(ginkgoReport)
	Expect(err).NotTo(HaveOccurred())
	run, _, err := report.Load(dir)
	Expect(err).NotTo(HaveOccurred())
	found := false
	for _, s := range run.Scenarios {
		if s.Hypothesis == "the service answers under Ginkgo while its link is slow" {
			found = true
			Expect(s.Verdict).To(Equal(report.Pass))
			Expect(s.Faults).To(HaveLen(1))
			Expect(s.Replay).To(ContainSubstring(`-ginkgo.focus="(^|\\s)an experiment in a Ginkgo suite heals its fault`))
		}
	}
	Expect(found).To(BeTrue(), "the Ginkgo experiment is in the report")
	_ = os.RemoveAll(dir)
})

// Package scenarios_test holds faultline's resilience suites against the reference
// system: each spec's name is its hypothesis; each runs load through the gateway,
// injects faults through harness/fault, and collects checker results that must all
// pass. The whole list runs once per backend (labels "local", "docker" and "kubernetes");
// pick with -ginkgo.label-filter, or FAULTLINE_RUNTIME=local|docker|kubernetes. Each scenario is an
// experiment of harness/experiment, written as a user's suite would write it; the
// report goes to $FAULTLINE_REPORT_DIR, else reports/<time>/ at the module's root.
package scenarios_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/report"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	// Ctrl-C: the harness downs every system, then leaves it to Ginkgo to run the
	// suite's cleanups and save the report (docs/signals.md).
	release := harness.HandOverInterrupts()
	defer release()
	if !RunSpecs(t, "faultline resilience scenarios") {
		logFailedChecks(t)
	}
}

// logFailedChecks repeats, after Ginkgo's summary, the checks that failed and their
// figures: the last lines of a long CI log then say what went wrong, not only where.
func logFailedChecks(t *testing.T) {
	for _, sc := range experiment.Outcomes() {
		if sc.Verdict != report.Fail {
			continue
		}
		t.Logf("FAILED %s", sc.ID)
		for _, r := range sc.Checks.Failed() {
			t.Logf("  failed check: %s", r.Message)
		}
		if len(sc.Checks.Failed()) == 0 {
			t.Logf("  %s", firstLine(sc.Failure))
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// scenarios is the suite, in one place: each group lives in its own file. Add a
// scenario by writing it and adding it to its group.
var scenarios = slices.Concat(
	[]scenario{failover},
	trafficScenarios,    // traffic_test.go: isolation, self-healing, discovery, slow dependency, overload
	sagaScenarios,       // saga_test.go: the orders saga's consistency, orders' own fail-fast
	stateScenarios,      // state_test.go: registry partition and outage, database loss, nemesis
	durabilityScenarios, // durability_test.go: kill -9 cycles, short and (slow) 50-cycle soak
)

// runSeed is the run's seed: FAULTLINE_SEED when set, else Ginkgo's random seed, so
// that FAULTLINE_SEED=N replays a run's draws exactly.
func runSeed() uint64 {
	if s := os.Getenv("FAULTLINE_SEED"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n
		}
		Fail(fmt.Sprintf("FAULTLINE_SEED=%q is not a whole number: set it to one, or unset it", s))
	}
	return uint64(GinkgoRandomSeed())
}

// wants tells whether the run asked for a backend (FAULTLINE_RUNTIME=local|docker|auto).
func wants(backend string) bool {
	k := harness.RuntimeKind()
	return k == "auto" || k == "" || k == backend
}

var _ = BeforeSuite(func() {
	GinkgoWriter.Printf("faultline seed %d — replay with FAULTLINE_SEED=%d\n", runSeed(), runSeed())
})

// The report is written in a ReportAfterSuite, which Ginkgo runs even after an
// interrupt, so that a run stopped with Ctrl-C still leaves a full report of what ran.
var _ = ReportAfterSuite("faultline report", func(Report) {
	if experiment.Recorded() == 0 {
		return
	}
	dir, err := experiment.WriteReport("")
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("report of %d experiments in %s\n", experiment.Recorded(), dir)
})

func init() {
	for _, backend := range []string{"local", "docker", "kubernetes"} {
		Describe("on "+backend, Label(backend), Ordered, func() {
			e := &env{backend: backend}
			BeforeAll(func(ctx SpecContext) {
				skipUnlessWanted(ctx, backend)
				e.up(ctx)
			}, NodeTimeout(5*time.Minute))
			for _, s := range scenarios {
				s.register(e)
			}
		})
	}
}

// skipUnlessWanted skips a backend the run did not ask for, docker without an engine, or
// kubernetes without a cluster (under FAULTLINE_KUBE_REQUIRED, set by make test once its
// cluster is up, a cluster that does not answer fails instead).
func skipUnlessWanted(ctx context.Context, backend string) {
	if !wants(backend) {
		Skip(fmt.Sprintf("FAULTLINE_RUNTIME=%s: skipping the %s backend", harness.RuntimeKind(), backend))
	}
	if backend == "docker" {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ok := docker.Available(actx)
		cancel()
		if !ok {
			Skip("docker engine not reachable: skipping the docker backend")
		}
	}
	if backend == "kubernetes" {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := kubernetes.Check(actx, kubernetes.WithContext(os.Getenv(harness.KubeContextEnv)))
		cancel()
		switch {
		case err != nil && os.Getenv("FAULTLINE_KUBE_REQUIRED") != "":
			Fail(fmt.Sprintf("FAULTLINE_KUBE_REQUIRED is set but no cluster answers: %v", err))
		case err != nil:
			Skip(fmt.Sprintf("no Kubernetes cluster: skipping the kubernetes backend (%v)", err))
		}
	}
}

// up brings the reference system up on the env's backend and registers its teardown.
func (e *env) up(ctx context.Context, opts ...reference.Option) {
	// Logs go to GinkgoWriter: shown for a failed spec, kept quiet for a passing one.
	logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	rt, err := harness.NewRuntime(ctx, e.backend, logger)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) { _ = rt.Close(ctx) })
	sys, err := harness.Up(ctx, reference.System(opts...), harness.WithRuntime(rt),
		harness.WithReadiness(reference.Ready), harness.WithSeed(runSeed()), harness.WithLogger(logger))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) { _ = sys.Down(ctx) })
	e.sys = sys
	e.seed()
}

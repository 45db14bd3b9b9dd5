// Package interruptsuite_test is the Ginkgo suite that harness's
// TestInterruptRunsGinkgoCleanups runs in a child process, compiled with `go test -c`: a
// spec brings a small system up, registers a DeferCleanup as a user's suite does (down
// the system, close the runtime, save something), says on stdout what it started, and
// waits to be interrupted; an AfterSuite saves something too. Each of the two writes a
// marker file, so that the parent can tell that Ginkgo ran them after its SIGINT.
//
// It reads:
//
//	FAULTLINE_CHILD_RUNTIME  local or docker
//	FAULTLINE_CHILD_BINARY   the path of conformance's testsvc binary
//	FAULTLINE_CHILD_MARKERS  the directory the markers go to
//
// It lives under testdata so that `go test ./...` never runs it on its own.
package interruptsuite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime/local"
)

// Marker names: the parent looks for these files in FAULTLINE_CHILD_MARKERS.
const (
	markerCleanup    = "defer-cleanup"
	markerAfterSuite = "after-suite"
)

func TestInterruptSuite(t *testing.T) {
	if os.Getenv("FAULTLINE_CHILD_RUNTIME") == "" {
		t.Skip("runs only as the child of harness's TestInterruptRunsGinkgoCleanups")
	}
	RegisterFailHandler(Fail)
	release := harness.HandOverInterrupts()
	defer release()
	RunSpecs(t, "interrupt suite")
}

var _ = AfterSuite(func() {
	Expect(mark(markerAfterSuite)).To(Succeed())
})

var _ = Describe("a system interrupted mid-spec", func() {
	It("waits for the interrupt", func(ctx SpecContext) {
		rt, err := harness.NewRuntime(ctx, os.Getenv("FAULTLINE_CHILD_RUNTIME"), nil)
		if rt != nil {
			DeferCleanup(func(ctx context.Context) { _ = rt.Close(ctx) })
		}
		Expect(err).NotTo(HaveOccurred())
		sys, err := harness.Up(ctx, harness.System{Name: "child", Services: []harness.Service{{
			Name: "svc", Source: harness.Source{Binary: os.Getenv("FAULTLINE_CHILD_BINARY")}, Replicas: 2,
			Env: map[string]string{"DATA_DIR": "{{datadir}}"},
		}}}, harness.WithRuntime(rt))
		if sys != nil {
			DeferCleanup(func(ctx SpecContext) {
				// Down and Close wait for the teardown that the harness's signal
				// handler has in flight.
				_ = sys.Down(ctx)
				_ = rt.Close(ctx)
				// A cleanup does more once the system is down (saving the run's
				// report, say). This is the moment in which the signal the harness
				// used to raise again reached Ginkgo, which took it for a second
				// Ctrl-C: it cut this cleanup short and skipped AfterSuite.
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return
				}
				Expect(mark(markerCleanup)).To(Succeed())
			})
		}
		Expect(err).NotTo(HaveOccurred())
		var pids []string
		if l, ok := rt.(*local.Runtime); ok {
			for _, p := range l.Processes() {
				pids = append(pids, strconv.Itoa(p))
			}
		}
		fmt.Printf("UP run=%s pids=%s\n", rt.RunID(), strings.Join(pids, ","))
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Minute):
			Fail("the child was never interrupted")
		}
	})
})

// mark writes the named marker file into FAULTLINE_CHILD_MARKERS.
func mark(name string) error {
	path := filepath.Join(os.Getenv("FAULTLINE_CHILD_MARKERS"), name)
	if err := os.WriteFile(path, []byte(time.Now().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write marker %s: %w", name, err)
	}
	return nil
}

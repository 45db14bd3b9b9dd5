// Package child_test is the Ginkgo suite that hardening/leaks runs in a child process,
// compiled with `go test -c`: it brings a small system up the way the scenario suites do
// (a runtime and a system, each torn down with DeferCleanup), puts a toxic on a link,
// says on stdout what it made, and then ends the way LEAKS_ENDING asks, so that the
// parent can look for whatever of the run is left.
//
// It reads:
//
//	LEAKS_ENDING   pass, fail (a failed Expect), panic (in the spec, which Ginkgo
//	               recovers), crash (a panic in a goroutine, which nobody recovers), or
//	               hang (print READY and wait to be signalled), hang-in-up (the
//	               same, but inside Up, before it returns), or mid-up (print READY
//	               before Up and bring the system up slowly, to be signalled halfway),
//	               or timeout (the same early READY, then wait for go test's -timeout)
//	LEAKS_BACKEND  local, docker or kubernetes
//	LEAKS_SERVICE  the path of conformance's testsvc binary
//	LEAKS_MARK     a token put in every instance's environment (as LEAKS_INSTANCE), so
//	               that the parent can find the run's processes in /proc
//
// It lives under testdata so that `go test ./...` never runs it on its own.
package child_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/local"
)

func TestChild(t *testing.T) {
	if os.Getenv("LEAKS_ENDING") == "" {
		t.Skip("runs only as the child of hardening/leaks (LEAKS_ENDING is not set)")
	}
	RegisterFailHandler(Fail)
	release := harness.HandOverInterrupts()
	defer release()
	RunSpecs(t, "leaks child")
}

// system is two testsvc services, front depending on back, so that the run has an
// ingress link per instance and one dependency link (front-1.back).
func system() harness.System {
	env := map[string]string{"DATA_DIR": runtime.PlaceholderDataDir, "LEAKS_INSTANCE": os.Getenv("LEAKS_MARK")}
	if os.Getenv("LEAKS_ENDING") == "mid-up" {
		// Every instance takes two seconds to turn healthy, so that Up is slow
		// enough to be interrupted halfway.
		env["HEALTH_DELAY"] = "2s"
	}
	bin := harness.Source{Binary: os.Getenv("LEAKS_SERVICE")}
	return harness.System{Name: "leaks", Services: []harness.Service{
		{Name: "back", Source: bin, Env: env},
		{Name: "front", Source: bin, Env: env, DependsOn: []harness.Dependency{{Service: "back", Env: "BACK_ADDR"}}},
	}}
}

var _ = Describe("a small system", Ordered, func() {
	var sys *harness.Running

	BeforeAll(func(ctx SpecContext) {
		// Debug level: the runtimes say what they remove at debug, and a leak needs that
		// story. GinkgoWriter shows it only for a failed or interrupted spec.
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelDebug}))
		rt, err := harness.NewRuntime(ctx, os.Getenv("LEAKS_BACKEND"), logger)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx context.Context) { _ = rt.Close(ctx) })
		if e := os.Getenv("LEAKS_ENDING"); e == "mid-up" || e == "timeout" {
			announceEarly(rt)
		}
		sys, err = harness.Up(ctx, system(), harness.WithRuntime(rt), harness.WithLogger(logger),
			harness.WithStartTimeout(90*time.Second), harness.WithReadiness(hangInUp))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx context.Context) { _ = sys.Down(ctx) })
		fmt.Println("UP", rt.RunID())
		Expect(addToxic(ctx, sys)).To(Succeed())
		announce(ctx, sys)
	}, NodeTimeout(2*time.Minute))

	It("ends the way LEAKS_ENDING says", func(ctx SpecContext) {
		Expect(fetchThroughFront(ctx, sys)).To(Equal("200"), "front-1 reaches back through its link")
		switch ending := os.Getenv("LEAKS_ENDING"); ending {
		case "pass":
		case "fail":
			Expect("the system").To(Equal("a failure on purpose"))
		case "panic":
			panic("a panic on purpose")
		case "crash":
			go func() { panic("a crash on purpose: a panic nobody recovers") }()
			<-ctx.Done()
		case "timeout":
			<-ctx.Done() // until go test's -timeout ends the process
		case "hang":
			fmt.Println("READY", sys.Runtime().RunID())
			<-ctx.Done()
		default:
			Fail(fmt.Sprintf("LEAKS_ENDING=%q is unknown: use pass, fail, panic, crash, hang, hang-in-up, mid-up or timeout", ending))
		}
	})
})

// hangInUp is a readiness check that, for LEAKS_ENDING=hang-in-up, announces the run
// and waits to be signalled while Up is still bringing the system up: every instance
// runs, but Up has not returned, so the spec holds no Running to tear down.
func hangInUp(ctx context.Context, r *harness.Running) error {
	if os.Getenv("LEAKS_ENDING") != "hang-in-up" {
		return nil
	}
	if err := addToxic(ctx, r); err != nil {
		return err
	}
	announce(ctx, r)
	fmt.Println("READY", r.Runtime().RunID())
	<-ctx.Done()
	return ctx.Err()
}

// announceEarly prints the LEAKS line before Up, with what is known then (no proxy, no
// toxic), and READY: the parent interrupts Up at a moment of its choosing.
func announceEarly(rt runtime.Runtime) {
	var dir string
	if l, ok := rt.(*local.Runtime); ok {
		dir = l.Dir()
	}
	fmt.Printf("LEAKS run=%s pid=%d dir=%s early=1\n", rt.RunID(), os.Getpid(), dir)
	fmt.Println("READY", rt.RunID())
}

// addToxic puts a small latency on the front-1.back link, so that the run has a toxic
// to leave behind.
func addToxic(ctx context.Context, r *harness.Running) error {
	_, err := r.Link("front-1.back").AddToxic(ctx, netfault.Toxic{
		Name: "leaks-latency", Type: netfault.TypeLatency, Attributes: map[string]any{"latency": 5},
	})
	if err != nil {
		return fmt.Errorf("add a toxic to front-1.back: %w", err)
	}
	return nil
}

// announce prints one line the parent parses: the run id, this process's pid, the
// local run directory and instance pids (local backend only), every link's host address
// and how many toxics the run's links hold.
func announce(ctx context.Context, sys *harness.Running) {
	var dir string
	var pids []string
	if l, ok := sys.Runtime().(*local.Runtime); ok {
		dir = l.Dir()
		for _, p := range l.Processes() {
			pids = append(pids, strconv.Itoa(p))
		}
	}
	var proxies []string
	toxics := 0
	for _, l := range sys.Proxies().Links() {
		addr, err := l.HostAddr(ctx)
		Expect(err).NotTo(HaveOccurred())
		proxies = append(proxies, addr)
		ts, err := l.Toxics(ctx)
		Expect(err).NotTo(HaveOccurred())
		toxics += len(ts)
	}
	fmt.Printf("LEAKS run=%s pid=%d dir=%s pids=%s proxies=%s toxics=%d\n", sys.Runtime().RunID(),
		os.Getpid(), dir, strings.Join(pids, ","), strings.Join(proxies, ","), toxics)
}

// fetchThroughFront asks front-1, through its ingress link, to fetch back's health
// through the front-1.back link, and returns the status back answered.
func fetchThroughFront(ctx context.Context, sys *harness.Running) (string, error) {
	front, err := sys.Instance("front-1").URL(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, front+"/fetch?addr="+sys.Link("front-1.back").NetAddr(), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch through front-1: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("fetch through front-1: %w", err)
	}
	return strings.TrimSpace(string(body)), nil
}

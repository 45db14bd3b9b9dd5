package leaks_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
	"github.com/faultline/faultline/harness/runtime/local"
)

// Bounds of one case. A docker bring-up on two shared cores takes a few seconds; these
// only stop a stuck child from hanging the package.
const (
	readyTimeout = 2 * time.Minute  // from start to READY, or to the end of a non-hanging child
	exitTimeout  = 90 * time.Second // from the signal to the child's exit
	settle       = 10 * time.Second // for the kernel to finish off processes and listeners
	kubeSettle   = time.Minute      // for the cluster to remove a deleted namespace and its pods
)

// ending is one way a run can end.
type ending struct {
	name   string
	mode   string         // the child's LEAKS_ENDING
	signal syscall.Signal // sent once the child says READY; 0 for none
	// after is how long after READY the signal goes. When set, READY comes before
	// anything runs, so the probes are not asked to see the live run first.
	after time.Duration
	// timeout is the child's -test.timeout (default 5 minutes).
	timeout time.Duration
	// abrupt: the process dies without running any cleanup, so what it leaves is the
	// next run's reaper's to remove.
	abrupt bool
}

var endings = []ending{
	{name: "success", mode: "pass"},
	{name: "failed-spec", mode: "fail"},
	{name: "panic", mode: "panic"},
	{name: "SIGINT", mode: "hang", signal: syscall.SIGINT},
	{name: "SIGTERM", mode: "hang", signal: syscall.SIGTERM},
	{name: "SIGKILL-then-reaper", mode: "hang", signal: syscall.SIGKILL, abrupt: true},
	// An interrupt while Up is still at work: the spec has no Running yet, and only the
	// runtime's DeferCleanup and the harness's signal handler can tear the run down.
	{name: "SIGINT-during-up", mode: "hang-in-up", signal: syscall.SIGINT},
	// The same, halfway through Up: while an instance is being started (or its
	// container created), a second after the runtime was made.
	{name: "SIGINT-mid-up", mode: "mid-up", signal: syscall.SIGINT, after: 1500 * time.Millisecond},
	// A panic in a goroutine that nobody recovers ends the process on the spot, with no
	// cleanup and no signal handler: for the harness it is a SIGKILL.
	{name: "crash-then-reaper", mode: "crash", abrupt: true},
	// go test's -timeout ends a suite the same way (the default 10 minutes kills long
	// suites, see DESIGN.md).
	{name: "go-test-timeout-then-reaper", mode: "timeout", timeout: 12 * time.Second, abrupt: true},
}

func TestMain(m *testing.M) {
	code := m.Run()
	if childDir != "" {
		_ = os.RemoveAll(childDir)
	}
	os.Exit(code)
}

// TestNothingOfARunRemains runs the child suite once per ending and backend and fails
// for every container, network, process, proxy listener or run directory of that run
// that is left once the run has ended (after the next run's reaper, for SIGKILL and a
// crash).
func TestNothingOfARunRemains(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child test processes and containers: skipped under -short")
	}
	bin := buildChild(t)
	svc := conformance.BuildTestService(t).Binary
	actx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	dockerUp := docker.Available(actx)
	cancel()
	kctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	kubeErr := kubernetes.Check(kctx)
	cancel()
	if kubeErr != nil && os.Getenv("FAULTLINE_KUBE_REQUIRED") != "" {
		t.Fatalf("FAULTLINE_KUBE_REQUIRED is set but no cluster answers: %v", kubeErr)
	}
	for _, backend := range []string{"local", "docker", "kubernetes"} {
		for _, e := range endings {
			t.Run(backend+"/"+e.name, func(t *testing.T) {
				if backend == "docker" && !dockerUp {
					t.Skip("no Docker engine answers: the docker backend's leak checks are skipped (start Docker to run them)")
				}
				if backend == "kubernetes" && kubeErr != nil {
					t.Skipf("no Kubernetes cluster: the kubernetes backend's leak checks are skipped (ci/kube.sh up starts one; make test does): %v", kubeErr)
				}
				t.Parallel()
				runCase(t, bin, svc, backend, e)
			})
		}
	}
}

// runCase runs one child to the given ending and checks what it left.
func runCase(t *testing.T, bin, svc, backend string, e ending) {
	c := startChild(t, bin, svc, backend, e)
	var f facts
	if e.signal == 0 {
		c.waitExit(t, readyTimeout)
		f = c.awaitFacts(t)
	} else {
		c.awaitReady(t)
		f = c.awaitFacts(t)
		if e.after > 0 {
			time.Sleep(e.after)
		} else {
			// The probes must see the live run, or their silence afterwards would prove nothing.
			requireAlive(t, backend, f, probe(t, backend, f, c.mark))
		}
		if backend == "docker" {
			n, err := docker.ReapRun(t.Context(), f.run, nil)
			if err != nil {
				t.Fatalf("reap run %s while it is alive: %v", f.run, err)
			}
			if n != 0 {
				t.Fatalf("the reaper removed %d resources of run %s, whose process is alive: it must leave a live run alone", n, f.run)
			}
		}
		if err := c.cmd.Process.Signal(e.signal); err != nil {
			t.Fatalf("send %v to the child: %v", e.signal, err)
		}
		c.waitExit(t, exitTimeout)
	}
	c.checkEnding(t, e)
	if !e.abrupt {
		requireNone(t, probeUntilGone(t, backend, f, c.mark), "after "+e.name)
		return
	}
	// Nothing in the child could clean up: the next run's reaper must.
	switch backend {
	case "local":
		reapLocal(t, f, c.mark)
	case "docker":
		reapDocker(t, f, probe(t, backend, f, c.mark))
	case "kubernetes":
		reapKubernetes(t, f, probe(t, backend, f, c.mark))
	}
	requireNone(t, probeUntilGone(t, backend, f, c.mark), "after "+e.name+" and the next run's reaper")
}

// reapLocal checks what a dead local run leaves, then plays the next run: the
// kernel kills the instances with their harness (Pdeathsig), so no process or proxy
// may be left even before the reaper; only the run directory stays, and a new local
// runtime removes it.
func reapLocal(t testing.TB, f facts, mark string) {
	t.Helper()
	r := probeUntil(t, "local", f, mark, func(r remains) bool { return len(r.processes)+len(r.listeners) == 0 })
	if len(r.processes) > 0 || len(r.listeners) > 0 {
		t.Errorf("after the child died, before any reaper: %s", strings.Join(append(r.processes, r.listeners...), "; "))
	}
	if len(r.dirs) == 0 {
		t.Logf("dead run %s left no run directory: another run's reaper got there first", f.run)
	}
	next, err := local.New(local.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("the next local run: %v", err)
	}
	if err := next.Close(context.Background()); err != nil {
		t.Errorf("close the next local run: %v", err)
	}
}

// reapDocker plays the next run after a dead docker run: its containers and
// network are still there (nothing removed them), and the reaper removes them.
func reapDocker(t testing.TB, f facts, r remains) {
	t.Helper()
	left := len(r.containers) + len(r.networks)
	if left == 0 {
		t.Logf("dead run %s left no container or network: another run's reaper got there first", f.run)
		return
	}
	t.Logf("dead run %s left, as it must: %s", f.run, strings.Join(append(r.containers, r.networks...), "; "))
	// Any run that starts now reaps this dead one too (the other cases' children do), so
	// the count may fall short of what was left; what counts is that nothing stays.
	n, err := docker.ReapRun(t.Context(), f.run, nil)
	if err != nil {
		t.Errorf("the next run's reaper failed on run %s: %v", f.run, err)
	}
	t.Logf("the reaper removed %d of the %d resources of dead run %s", n, left, f.run)
}

// reapKubernetes plays the next run after a dead kubernetes run: its namespace is still
// there, its pods running, and the reaper deletes it; the cluster then removes what it
// held (probeUntilGone waits for that).
func reapKubernetes(t testing.TB, f facts, r remains) {
	t.Helper()
	if len(r.namespaces) == 0 {
		t.Logf("dead run %s left no namespace: another run's reaper got there first", f.run)
		return
	}
	t.Logf("dead run %s left, as it must: %s", f.run, strings.Join(r.namespaces, "; "))
	cs := kubeClient(t)
	n, err := kubernetes.Reap(t.Context(), cs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Errorf("the next run's reaper failed: %v", err)
	}
	t.Logf("the reaper deleted %d namespace(s) of dead runs", n)
}

// kubeClient is a client of the cluster $KUBECONFIG names.
func kubeClient(t testing.TB) k8s.Interface {
	t.Helper()
	_, cs, _, err := kubernetes.Client("", "")
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// kubeNamespaces lists the namespaces labelled with run, with their phase.
func kubeNamespaces(t testing.TB, run string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := kubeClient(t).CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelRun + "=" + run})
	if err != nil {
		t.Fatalf("list the namespaces of run %s: %v", run, err)
	}
	var out []string
	for _, ns := range list.Items {
		out = append(out, fmt.Sprintf("namespace %s (%s) of run %s", ns.Name, ns.Status.Phase, run))
	}
	return out
}

// requireAlive fails unless the probes found every kind of resource a live run holds on
// backend: on local, among them a process of every pid the child announced.
func requireAlive(t testing.TB, backend string, f facts, r remains) {
	t.Helper()
	var missing []string
	for _, pid := range f.pids {
		if !slices.ContainsFunc(r.processes, func(p string) bool { return strings.HasPrefix(p, fmt.Sprintf("process %d ", pid)) }) {
			missing = append(missing, fmt.Sprintf("instance process %d does not carry the run's mark", pid))
		}
	}
	if len(r.listeners) == 0 {
		missing = append(missing, "no proxy listens")
	}
	switch backend {
	case "local":
		if len(r.processes) < 2 {
			missing = append(missing, fmt.Sprintf("%d instance processes carry the run's mark, want 2", len(r.processes)))
		}
		if len(r.dirs) == 0 {
			missing = append(missing, "no run directory")
		}
	case "docker":
		if len(r.containers) == 0 {
			missing = append(missing, "no container carries the run's label")
		}
		if len(r.networks) == 0 {
			missing = append(missing, "no network carries the run's label")
		}
	case "kubernetes":
		if len(r.namespaces) == 0 {
			missing = append(missing, "no namespace carries the run's label")
		}
		if len(r.processes) < 2 {
			missing = append(missing, fmt.Sprintf("%d pod processes carry the run's mark, want 2", len(r.processes)))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the probes cannot see the live run (%s), so they could not see a leak either", strings.Join(missing, ", "))
	}
}

// requireNone fails with every leftover, naming when it was looked for.
func requireNone(t testing.TB, r remains, when string) {
	t.Helper()
	for _, l := range r.all() {
		t.Errorf("leak %s: %s", when, l)
	}
}

// ----- the child process -----

// The compiled child suite, built once and kept in childDir for the life of the test
// binary (TestMain removes it).
var (
	childOnce sync.Once
	childDir  string
	childBin  string
	childErr  error
)

// buildChild compiles testdata/child with `go test -c`, once per test binary.
func buildChild(t testing.TB) string {
	t.Helper()
	childOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			childErr = fmt.Errorf("the go command is needed to build the child suite: %w", err)
			return
		}
		if childDir, err = os.MkdirTemp("", "faultline-leaks-"); err != nil {
			childErr = fmt.Errorf("build the child suite: %w", err)
			return
		}
		childBin = filepath.Join(childDir, "child.test")
		cmd := exec.Command(goBin, "test", "-c", "-o", childBin, "./testdata/child")
		if out, err := cmd.CombinedOutput(); err != nil {
			childErr = fmt.Errorf("go test -c ./testdata/child: %w\n%s", err, out)
		}
	})
	if childErr != nil {
		t.Fatal(childErr)
	}
	return childBin
}

// facts is what the child says about its run on its LEAKS line.
type facts struct {
	run     string
	pid     int
	dir     string   // local run directory
	pids    []int    // local instance processes
	proxies []string // every link's host address
	toxics  int
	early   bool // said before Up: no proxy or toxic yet
}

// parseFacts reads a LEAKS line ("LEAKS run=… pid=… dir=… pids=… proxies=… toxics=…").
func parseFacts(line string) (facts, error) {
	var f facts
	for _, field := range strings.Fields(strings.TrimPrefix(line, "LEAKS ")) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "run":
			f.run = v
		case "pid":
			f.pid, _ = strconv.Atoi(v)
		case "dir":
			f.dir = v
		case "pids":
			for _, p := range strings.Split(v, ",") {
				if n, err := strconv.Atoi(p); err == nil {
					f.pids = append(f.pids, n)
				}
			}
		case "proxies":
			if v != "" {
				f.proxies = strings.Split(v, ",")
			}
		case "toxics":
			f.toxics, _ = strconv.Atoi(v)
		case "early":
			f.early = v == "1"
		}
	}
	if f.run == "" || !f.early && (len(f.proxies) == 0 || f.toxics == 0) {
		return f, fmt.Errorf("LEAKS line %q lacks the run id, the proxies or the toxic", line)
	}
	return f, nil
}

// child is one run of the child suite.
type child struct {
	cmd  *exec.Cmd
	mark string

	mu      sync.Mutex
	out     bytes.Buffer // everything the child wrote, for failure messages
	partial []byte       // an unfinished line
	facts   *facts
	factErr error
	factsCh chan struct{} // closed once the LEAKS line is read
	readyCh chan struct{} // closed once the READY line is read
	doneCh  chan struct{} // closed once the child is reaped
	waitErr error
}

// startChild starts the child suite on backend, to end as e says. Its cleanup kills
// the child if it still runs and, on docker, reaps what its run left, so that a failed
// case leaves nothing either.
func startChild(t testing.TB, bin, svc, backend string, e ending) *child {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	c := &child{
		mark:    "leaks-" + hex.EncodeToString(b[:]),
		factsCh: make(chan struct{}),
		readyCh: make(chan struct{}),
		doneCh:  make(chan struct{}),
	}
	timeout := e.timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	c.cmd = exec.Command(bin, "-test.run=^TestChild$", "-test.v", "-test.timeout="+timeout.String(), "-ginkgo.no-color")
	// The child runs in this package's directory, inside the module, so that the
	// harness can build what FAULTLINE_BIN does not hold (the Toxiproxy server).
	c.cmd.Env = append(os.Environ(),
		"LEAKS_ENDING="+e.mode, "LEAKS_BACKEND="+backend, "LEAKS_SERVICE="+svc, "LEAKS_MARK="+c.mark)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	// Should an instance inherit the child's output and outlive it, Wait still returns.
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start the child suite: %v", err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.doneCh)
	}()
	t.Cleanup(func() {
		select {
		case <-c.doneCh:
		default:
			_ = c.cmd.Process.Kill()
			<-c.doneCh
		}
		c.mu.Lock()
		f := c.facts
		c.mu.Unlock()
		if backend == "kubernetes" && f != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, ns := range kubeNamespaces(t, f.run) {
				name := strings.Fields(ns)[1]
				_ = kubeClient(t).CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
			}
		}
		if backend == "docker" && f != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := docker.ReapRun(ctx, f.run, nil); err != nil {
				t.Logf("clean up after the case: reap run %s: %v", f.run, err)
			}
		}
		if t.Failed() {
			t.Logf("the child's output:\n%s", c.output())
		}
	})
	return c
}

// Write takes the child's stdout and stderr, and reads the LEAKS and READY lines.
func (c *child) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(p)
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
		switch {
		case strings.HasPrefix(line, "LEAKS ") && c.factErr == nil && (c.facts == nil || c.facts.early):
			// An early line (before Up) gives way to the full one after Up.
			f, err := parseFacts(line)
			if c.facts == nil {
				close(c.factsCh)
			}
			c.facts, c.factErr = &f, err
		case strings.HasPrefix(line, "READY "):
			select {
			case <-c.readyCh:
			default:
				close(c.readyCh)
			}
		}
	}
	return len(p), nil
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// awaitFacts returns what the child said about its run.
func (c *child) awaitFacts(t testing.TB) facts {
	t.Helper()
	select {
	case <-c.factsCh:
	case <-c.doneCh:
		select {
		case <-c.factsCh:
		default:
			t.Fatalf("the child ended without saying what it started (%v)", c.waitErr)
		}
	case <-time.After(readyTimeout):
		t.Fatalf("the child said nothing of its run within %s", readyTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.factErr != nil {
		t.Fatal(c.factErr)
	}
	if c.facts.pid != c.cmd.Process.Pid {
		t.Fatalf("the LEAKS line names process %d, but the child is %d", c.facts.pid, c.cmd.Process.Pid)
	}
	return *c.facts
}

// awaitReady returns once the child hangs in its spec, waiting for a signal.
func (c *child) awaitReady(t testing.TB) {
	t.Helper()
	select {
	case <-c.readyCh:
	case <-c.doneCh:
		t.Fatalf("the child ended (%v) before it was READY", c.waitErr)
	case <-time.After(readyTimeout):
		t.Fatalf("the child was not READY within %s", readyTimeout)
	}
}

// waitExit waits for the child to end.
func (c *child) waitExit(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.doneCh:
	case <-time.After(timeout):
		t.Fatalf("the child did not end within %s", timeout)
	}
}

// checkEnding fails unless the child ended the way the case made it end, so that a case
// cannot pass by ending some other way.
func (c *child) checkEnding(t testing.TB, e ending) {
	t.Helper()
	var exit *exec.ExitError
	errors.As(c.waitErr, &exit)
	out := c.output()
	switch {
	case e.mode == "pass":
		if c.waitErr != nil {
			t.Errorf("the passing child ended with %v", c.waitErr)
		}
	case e.mode == "fail":
		if exit == nil || !strings.Contains(out, "a failure on purpose") {
			t.Errorf("the child did not end with its failed spec (%v)", c.waitErr)
		}
	case e.mode == "panic":
		if exit == nil || !strings.Contains(out, "a panic on purpose") {
			t.Errorf("the child did not end with its panic (%v)", c.waitErr)
		}
	case e.mode == "timeout":
		if exit == nil || exit.ExitCode() != 2 || !strings.Contains(out, "test timed out after") {
			t.Errorf("the child was not ended by go test's -timeout (%v)", c.waitErr)
		}
	case e.mode == "crash":
		if exit == nil || exit.ExitCode() != 2 || !strings.Contains(out, "a crash on purpose") {
			t.Errorf("the child did not crash with its unrecovered panic (%v)", c.waitErr)
		}
	case e.signal == syscall.SIGKILL:
		ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("the child did not die of SIGKILL (%v)", c.waitErr)
		}
	case e.mode == "mid-up" && strings.Contains(out, "\nUP "):
		t.Errorf("the child's Up returned before the %v %s after READY: the case did not interrupt Up", e.signal, e.after)
	default:
		if c.waitErr == nil {
			t.Errorf("the child passed after %v: it should have been interrupted", e.signal)
		}
	}
}

// ----- the probes -----

// remains is what a probe found of one run.
type remains struct {
	containers []string
	networks   []string
	namespaces []string
	processes  []string
	listeners  []string
	dirs       []string
}

func (r remains) all() []string {
	var out []string
	for _, s := range [][]string{r.containers, r.networks, r.namespaces, r.processes, r.listeners, r.dirs} {
		out = append(out, s...)
	}
	return out
}

// probeUntilGone returns what is left of the run. Processes and listeners of a dead
// parent take the kernel a moment to finish off, so it polls for those for up to
// settle; containers, networks and run directories do not fade by themselves (only the
// run or a reaper removes them, and another run's reaper might while it waits), so for
// those the first look is the truth. A deleted namespace does fade: the cluster removes
// it once its pods are gone, so it is polled for as well.
func probeUntilGone(t testing.TB, backend string, f facts, mark string) remains {
	t.Helper()
	first := probe(t, backend, f, mark)
	if len(first.all()) == 0 {
		return first
	}
	r := probeUntil(t, backend, f, mark, func(r remains) bool { return len(r.processes)+len(r.listeners)+len(r.namespaces) == 0 })
	r.containers, r.networks, r.dirs = first.containers, first.networks, first.dirs
	return r
}

// probeUntil probes until done holds or settle has passed (kubeSettle on kubernetes),
// and returns the last probe.
func probeUntil(t testing.TB, backend string, f facts, mark string, done func(remains) bool) remains {
	t.Helper()
	wait := settle
	if backend == "kubernetes" {
		wait = kubeSettle
	}
	deadline := time.Now().Add(wait)
	for {
		r := probe(t, backend, f, mark)
		if done(r) || time.Now().After(deadline) {
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// probe looks for every resource of the run that f describes: its containers and
// networks (docker), its processes and run directory (local), and listeners on its
// proxies' addresses (both).
func probe(t testing.TB, backend string, f facts, mark string) remains {
	t.Helper()
	var r remains
	switch backend {
	case "docker":
		r.containers, r.networks = dockerResources(t, f.run)
	case "kubernetes":
		r.namespaces = kubeNamespaces(t, f.run)
	}
	r.processes = markedProcesses(mark)
	for _, addr := range f.proxies {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			r.listeners = append(r.listeners, fmt.Sprintf("something listens on proxy address %s of run %s", addr, f.run))
		}
	}
	if f.dir != "" {
		if _, err := os.Stat(f.dir); err == nil {
			r.dirs = append(r.dirs, "run directory "+f.dir)
		}
	}
	return r
}

// dockerResources lists the containers and networks labelled with run, and only those:
// other runs on the same engine are none of this test's business.
func dockerResources(t testing.TB, run string) (containers, networks []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer api.Close()
	filter := client.Filters{}.Add("label", docker.LabelRun+"="+run)
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		t.Fatalf("list the containers of run %s: %v", run, err)
	}
	for _, c := range cs.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		containers = append(containers, fmt.Sprintf("container %s (%s) of run %s", name, c.State, run))
	}
	ns, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		t.Fatalf("list the networks of run %s: %v", run, err)
	}
	for _, n := range ns.Items {
		networks = append(networks, fmt.Sprintf("network %s of run %s", n.Name, run))
	}
	return containers, networks
}

// markedProcesses lists the live processes whose environment holds mark: the run's
// instances, whatever pid they had after a restart. Container processes are in another
// pid namespace on these machines and show only on the docker probe.
func markedProcesses(mark string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if alive, comm := processWithMark(pid, mark); alive {
			out = append(out, fmt.Sprintf("process %d (%s) with LEAKS_INSTANCE=%s", pid, comm, mark))
		}
	}
	return out
}

// processWithMark reports whether pid is a live process (not a zombie) whose
// environment holds LEAKS_INSTANCE=mark (an instance of the run, not the child suite
// itself, which holds LEAKS_MARK), and its command name.
func processWithMark(pid int, mark string) (bool, string) {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	want := "LEAKS_INSTANCE=" + mark + "\x00"
	if err != nil || !bytes.Contains(env, []byte("\x00"+want)) && !bytes.HasPrefix(env, []byte(want)) {
		return false, ""
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false, ""
	}
	s := string(stat)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open || closing+2 >= len(s) {
		return false, ""
	}
	if state := s[closing+2]; state == 'Z' || state == 'X' {
		return false, ""
	}
	return true, s[open+1 : closing]
}

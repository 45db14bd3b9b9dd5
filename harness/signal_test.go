package harness_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/local"
)

// TestChildScenario is the scenario the signal test runs in a child process: it brings a
// small system up, says what it started, and waits to be interrupted.
func TestChildScenario(t *testing.T) {
	kind := os.Getenv("FAULTLINE_CHILD_RUNTIME")
	if kind == "" {
		t.Skip("runs only as the child of TestInterruptLeavesNothingBehind")
	}
	ctx := context.Background()
	rt, err := harness.NewRuntime(ctx, kind, nil)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := harness.Up(ctx, harness.System{Name: "child", Services: []harness.Service{{
		Name: "svc", Source: harness.Source{Binary: os.Getenv("FAULTLINE_CHILD_BINARY")}, Replicas: 2,
		Env: map[string]string{"DATA_DIR": "{{datadir}}"},
	}}}, harness.WithRuntime(rt))
	if err != nil {
		t.Fatal(err)
	}
	// The runtime is the scenario's own: Down must remove everything, so hand it over.
	_ = sys
	var pids []string
	if l, ok := rt.(*local.Runtime); ok {
		for _, p := range l.Processes() {
			pids = append(pids, strconv.Itoa(p))
		}
	}
	fmt.Printf("UP run=%s pids=%s\n", rt.RunID(), strings.Join(pids, ","))
	time.Sleep(2 * time.Minute)
	t.Fatal("the child was never interrupted")
}

// TestInterruptLeavesNothingBehind runs a scenario in a child test process, interrupts
// it mid-scenario, and finds no container, network or process of that run afterwards.
// Nothing else in the child handles the signal, so it must end the way that signal ends
// a process.
func TestInterruptLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	cases := []struct {
		runtime string
		sig     syscall.Signal
	}{
		{"local", syscall.SIGINT},
		{"local", syscall.SIGTERM},
		{"docker", syscall.SIGINT},
		{"docker", syscall.SIGTERM},
	}
	dockerUp := dockerAvailable()
	for _, tc := range cases {
		t.Run(tc.runtime+"/"+tc.sig.String(), func(t *testing.T) {
			if tc.runtime == "docker" && !dockerUp {
				t.Skip("docker engine not reachable: skipping the docker backend")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildScenario$", "-test.v")
			cmd.Env = append(os.Environ(), "FAULTLINE_CHILD_RUNTIME="+tc.runtime, "FAULTLINE_CHILD_BINARY="+art.Binary)
			c := startChild(t, cmd)
			c.awaitUp(t)
			c.interrupt(t, tc.sig, 60*time.Second)
			ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != tc.sig {
				t.Errorf("the child ended with %v, not by %v raised again after the teardown:\n%s", c.err, tc.sig, c.output())
			}
			requireNothingLeft(t, tc.runtime, c, tc.sig.String())
		})
	}
}

// TestInterruptRunsGinkgoCleanups runs a Ginkgo suite in a child process
// (testdata/interruptsuite, which hands interrupts over to Ginkgo with
// harness.HandOverInterrupts), sends it one SIGINT mid-spec, and requires that the
// suite's own DeferCleanup and AfterSuite ran, that the child ended soon, by Ginkgo's
// hand rather than by the signal, and that nothing of its run is left.
func TestInterruptRunsGinkgoCleanups(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes: skipped under -short")
	}
	// From the SIGINT to the child's exit: the teardown, the cleanup's second, Ginkgo's
	// report, on two shared cores.
	const exitBound = 45 * time.Second
	art := conformance.BuildTestService(t)
	suite := buildInterruptSuite(t)
	dockerUp := dockerAvailable()
	for _, kind := range []string{"local", "docker"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "docker" && !dockerUp {
				t.Skip("docker engine not reachable: skipping the docker backend")
			}
			markers := t.TempDir()
			cmd := exec.Command(suite, "-test.run=^TestInterruptSuite$", "-test.v", "-test.timeout=5m", "-ginkgo.no-color")
			cmd.Env = append(os.Environ(), "FAULTLINE_CHILD_RUNTIME="+kind,
				"FAULTLINE_CHILD_BINARY="+art.Binary, "FAULTLINE_CHILD_MARKERS="+markers)
			c := startChild(t, cmd)
			defer func() {
				if t.Failed() {
					t.Logf("the child's output:\n%s", c.output())
				}
			}()
			c.awaitUp(t)
			took := c.interrupt(t, syscall.SIGINT, exitBound)
			t.Logf("the child ended %s after SIGINT", took.Round(time.Millisecond))
			for _, m := range []string{"defer-cleanup", "after-suite"} {
				if _, err := os.Stat(filepath.Join(markers, m)); err != nil {
					t.Errorf("the suite's %s did not run after one SIGINT: %v", m, err)
				}
			}
			if strings.Contains(c.output(), "Second interrupt received") {
				t.Errorf("Ginkgo received a second interrupt after one SIGINT")
			}
			var exit *exec.ExitError
			if !errors.As(c.err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("the child ended with %v, not with Ginkgo's exit 1 for an interrupted suite", c.err)
			}
			requireNothingLeft(t, kind, c, "SIGINT")
		})
	}
}

// buildInterruptSuite compiles testdata/interruptsuite into the test's temporary
// directory and returns the binary's path.
func buildInterruptSuite(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the child suite: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "interruptsuite.test")
	if out, err := exec.Command(goBin, "test", "-c", "-o", bin, "./testdata/interruptsuite").CombinedOutput(); err != nil {
		t.Fatalf("go test -c ./testdata/interruptsuite: %v\n%s", err, out)
	}
	return bin
}

func dockerAvailable() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return docker.Available(ctx)
}

// child is a test process that a signal test started, and what it said of its run.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait has returned
	err  error         // Wait's error, once done is closed
	up   chan struct{} // closed once the child printed its UP line

	mu   sync.Mutex
	out  bytes.Buffer
	run  string // the run id from the UP line
	pids string // local instance pids from the UP line, comma-separated
}

// startChild starts cmd with its output collected, and kills it when the test ends if it
// is still running.
func startChild(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{cmd: cmd, done: make(chan struct{}), up: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c, c
	// Should an instance inherit the child's output and outlive it, Wait still returns.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child: %v", err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// Write collects the child's output and reads its UP line ("UP run=… pids=…").
func (c *child) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(p)
	if c.run != "" {
		return len(p), nil
	}
	// Only whole lines: an UP line may come in more than one write.
	all := c.out.String()
	for _, line := range strings.Split(all[:strings.LastIndexByte(all, '\n')+1], "\n") {
		if !strings.HasPrefix(line, "UP ") {
			continue
		}
		for _, f := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "run":
				c.run = v
			case "pids":
				c.pids = v
			}
		}
		if c.run != "" {
			close(c.up)
			break
		}
	}
	return len(p), nil
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// awaitUp waits for the child's UP line, and fails the test if the child ends or takes
// too long first.
func (c *child) awaitUp(t *testing.T) {
	t.Helper()
	select {
	case <-c.up:
	case <-c.done:
		t.Fatalf("the child ended (%v) before it came up:\n%s", c.err, c.output())
	case <-time.After(3 * time.Minute):
		t.Fatalf("the child did not come up within 3 minutes:\n%s", c.output())
	}
}

// interrupt sends sig to the child and waits for it to end, at most bound; it returns
// how long the child took.
func (c *child) interrupt(t *testing.T, sig syscall.Signal, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to the child: %v", sig, err)
	}
	select {
	case <-c.done:
		return time.Since(start)
	case <-time.After(bound):
		t.Fatalf("the child did not end within %s of %v:\n%s", bound, sig, c.output())
		return 0
	}
}

// requireNothingLeft fails for every process (local) or container and network (docker)
// of the child's run that is still there.
func requireNothingLeft(t *testing.T, kind string, c *child, after string) {
	t.Helper()
	c.mu.Lock()
	run, pids := c.run, c.pids
	c.mu.Unlock()
	if pids != "" {
		for _, p := range strings.Split(pids, ",") {
			pid, _ := strconv.Atoi(p)
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("process %d of run %s is still alive after %s", pid, run, after)
			}
		}
	}
	if kind == "docker" {
		for _, what := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}} {
			args := append(what, "--filter", "label="+docker.LabelRun+"="+run)
			got, err := exec.Command("docker", args...).Output()
			if err != nil {
				t.Fatalf("docker %v: %v", args, err)
			}
			if s := strings.TrimSpace(string(got)); s != "" {
				t.Errorf("docker %s still lists %s of run %s after %s", what[0], s, run, after)
			}
		}
	}
}

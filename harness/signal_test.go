package harness_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	dockerUp := docker.Available(ctx)
	cancel()
	for _, tc := range cases {
		t.Run(tc.runtime+"/"+tc.sig.String(), func(t *testing.T) {
			if tc.runtime == "docker" && !dockerUp {
				t.Skip("docker engine not reachable: skipping the docker backend")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildScenario$", "-test.v")
			cmd.Env = append(os.Environ(), "FAULTLINE_CHILD_RUNTIME="+tc.runtime, "FAULTLINE_CHILD_BINARY="+art.Binary)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			var run, pids string
			var seen []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				seen = append(seen, line)
				if strings.HasPrefix(line, "UP ") {
					for _, f := range strings.Fields(line)[1:] {
						k, v, _ := strings.Cut(f, "=")
						switch k {
						case "run":
							run = v
						case "pids":
							pids = v
						}
					}
					break
				}
			}
			if run == "" {
				t.Fatalf("the child never came up:\n%s", strings.Join(seen, "\n"))
			}
			go func() {
				for sc.Scan() {
				}
			}()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("the child did not end within 60 s of %s", tc.sig)
			}
			if pids != "" {
				for _, p := range strings.Split(pids, ",") {
					pid, _ := strconv.Atoi(p)
					if syscall.Kill(pid, 0) == nil {
						t.Errorf("process %d of run %s is still alive after %s", pid, run, tc.sig)
					}
				}
			}
			if tc.runtime == "docker" {
				for _, what := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}} {
					args := append(what, "--filter", "label="+docker.LabelRun+"="+run)
					got, err := exec.Command("docker", args...).Output()
					if err != nil {
						t.Fatalf("docker %v: %v", args, err)
					}
					if s := strings.TrimSpace(string(got)); s != "" {
						t.Errorf("docker %s still lists %s of run %s after %s", what[0], s, run, tc.sig)
					}
				}
			}
		})
	}
}

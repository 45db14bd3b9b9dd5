package registry_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
)

// buildRegistry builds cmd/registry as a static binary into a temporary directory.
func buildRegistry(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: builds the registry binary and runs it as a child process")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH to build cmd/registry with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "registry")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "github.com/faultline/faultline/reference-services/cmd/registry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/registry: %v\n%s", err, out)
	}
	return bin
}

// process is one run of the registry binary.
type process struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{} // closed when stderr is drained
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// runRegistry starts bin with env and waits until it logs the address it listens on.
// The process is killed when the test ends, if it still runs.
func runRegistry(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		<-p.done
		if t.Failed() {
			t.Logf("registry's stderr:\n%s", p.log())
		}
	})
	listening := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.Write(sc.Bytes())
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var line struct{ Msg, Addr, Service string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				if line.Service != "registry" {
					t.Errorf("log line %s lacks service=registry", sc.Bytes())
				}
				listening <- line.Addr
			}
		}
	}()
	select {
	case p.addr = <-listening:
	case <-p.done:
		p.cmd.Wait()
		t.Fatalf("registry exited before listening (%v):\n%s", p.cmd.ProcessState, p.log())
	case <-time.After(patience):
		t.Fatalf("registry did not log that it listens within %s:\n%s", patience, p.log())
	}
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("wait for the registry: %v", err)
		}
		<-p.done
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(patience):
		t.Fatalf("registry still runs %s later", patience)
		return -1
	}
}

func TestBinary(t *testing.T) {
	bin := buildRegistry(t)
	t.Run("survives SIGKILL with its leases", func(t *testing.T) { testSurvivesSIGKILL(t, bin) })
	t.Run("reports every bad setting", func(t *testing.T) { testReportsBadSettings(t, bin) })
}

func testSurvivesSIGKILL(t *testing.T, bin string) {
	dataDir := filepath.Join(t.TempDir(), "not", "yet", "there")
	env := []string{"LISTEN_ADDR=127.0.0.1:0", "DATA_DIR=" + dataDir, "LOG_LEVEL=debug"}

	first := runRegistry(t, bin, env...)
	c := discovery.NewClient(first.addr)
	want := discovery.Instance{Service: "accounts", ID: "accounts-1", Address: "127.0.0.1:9001", Meta: map[string]string{"version": "1"}}
	lease, err := c.Register(ctx(t), want, time.Minute)
	if err != nil {
		t.Fatalf("register with the binary: %v", err)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t)

	second := runRegistry(t, bin, env...)
	c = discovery.NewClient(second.addr)
	snap, err := c.Instances(ctx(t), "accounts", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Instances) != 1 || snap.Instances[0].ID != want.ID || snap.Instances[0].Meta["version"] != "1" {
		t.Fatalf("after SIGKILL and restart: %+v, want %s still live", snap.Instances, want.ID)
	}
	if snap.Index < lease.Index {
		t.Errorf("index %d after restart, below %d before", snap.Index, lease.Index)
	}
	if _, err := c.Heartbeat(ctx(t), "accounts", "accounts-1"); err != nil {
		t.Errorf("heartbeat after restart: %v", err)
	}

	// A graceful stop answers a blocked watcher instead of waiting for it.
	watched := make(chan error, 1)
	go func() {
		_, err := c.Instances(t.Context(), "accounts", snap.Index, time.Minute)
		watched <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the query reach the registry; either way it must be answered
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := second.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	select {
	case err := <-watched:
		if err != nil {
			t.Errorf("blocked watcher during graceful stop: %v, want an answer", err)
		}
	case <-time.After(patience):
		t.Errorf("blocked watcher not answered by a graceful stop")
	}
	if !strings.Contains(second.log(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" log line after SIGTERM")
	}
}

func testReportsBadSettings(t *testing.T, bin string) {
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = append(os.Environ(), "REGISTRY_TTL=soon", "LOG_LEVEL=loud", "LISTEN_ADDR=nowhere", "DATA_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2; output:\n%s", err, out)
	}
	for _, name := range []string{"REGISTRY_TTL", "LOG_LEVEL", "LISTEN_ADDR"} {
		if !strings.Contains(string(out), name) {
			t.Errorf("output does not name %s:\n%s", name, out)
		}
	}
}

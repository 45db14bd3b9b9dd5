package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
)

// testLogger shows the runtime's records under -v only.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newRuntime makes a runtime that the test closes.
func newRuntime(t *testing.T, opts ...local.Option) *local.Runtime {
	t.Helper()
	rt, err := local.New(append([]local.Option{local.WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatalf("new local runtime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return rt
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t) }, conformance.BuildTestService(t))
}

// httpDo does one request on a fresh connection.
func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	return httpDoBody(t, method, url, "")
}

// httpDoBody is httpDo with a request body.
func httpDoBody(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCrashShowsInState(t *testing.T) {
	ctx := t.Context()
	rt := newRuntime(t)
	in, err := rt.Start(ctx, conformance.ServiceSpec("svc-1", conformance.BuildTestService(t)))
	if err != nil {
		t.Fatal(err)
	}
	httpDo(t, http.MethodPost, "http://"+in.HostAddr()+"/exit?code=3")

	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := in.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st == runtime.StateExited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after the process exited by itself, state = %q, want exited", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pids := rt.Processes(); len(pids) != 0 {
		t.Errorf("Processes() = %v after the crash, want none", pids)
	}
	logs, err := in.Logs(ctx)
	if err != nil || !strings.Contains(string(logs), "testsvc exiting with code 3") {
		t.Errorf("logs after the crash = %q, %v; want the service's last words", logs, err)
	}
	if err := in.Kill(ctx); err != nil {
		t.Errorf("kill of a crashed instance: %v, want nil (it is already down)", err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatalf("start after crash: %v", err)
	}
	if code, _ := httpDo(t, http.MethodGet, "http://"+in.HostAddr()+"/healthz"); code != http.StatusOK {
		t.Errorf("after restart, /healthz = %d", code)
	}
}

func TestStartWhileRunning(t *testing.T) {
	ctx := t.Context()
	rt := newRuntime(t)
	in, err := rt.Start(ctx, conformance.ServiceSpec("svc-1", conformance.BuildTestService(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("start of a running instance: %v, want a 'still running' error", err)
	}
	if err := in.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err == nil {
		t.Errorf("start of a paused instance: no error")
	}
	// Stop thaws a paused instance so that it can handle SIGTERM.
	if err := in.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	logs, _ := in.Logs(ctx)
	if !strings.Contains(string(logs), "testsvc got SIGTERM") {
		t.Errorf("stop of a paused instance was not graceful; logs:\n%s", logs)
	}
	if err := in.Pause(ctx); !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("pause of a stopped instance: %v, want ErrNotRunning", err)
	}
	if err := in.Disconnect(ctx); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("disconnect: %v, want ErrUnsupported", err)
	}
}

func TestCloseKillsEverything(t *testing.T) {
	ctx := t.Context()
	rt, err := local.New(local.WithLogger(testLogger()), local.WithRunID("close-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	art := conformance.BuildTestService(t)
	var insts []runtime.Instance
	for i := range 3 {
		in, err := rt.Start(ctx, conformance.ServiceSpec(fmt.Sprintf("svc-%d", i), art))
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, in)
	}
	if err := insts[1].Pause(ctx); err != nil { // a frozen process must die too
		t.Fatal(err)
	}
	if _, err := rt.StartProxyHost(ctx, 3); err != nil {
		t.Fatal(err)
	}
	pids := rt.Processes()
	if len(pids) != 3 {
		t.Fatalf("Processes() = %v, want 3 pids", pids)
	}
	if !strings.Contains(rt.Dir(), "close-test") {
		t.Errorf("run dir %s does not name the run", rt.Dir())
	}

	if err := rt.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := rt.Processes(); len(got) != 0 {
		t.Errorf("Processes() after Close = %v", got)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d after Close: kill -0 = %v, want ESRCH", pid, err)
		}
	}
	if _, err := os.Stat(rt.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run dir %s after Close: %v, want it removed", rt.Dir(), err)
	}
	if left, err := rt.Leftovers(ctx); err != nil || len(left) > 0 {
		t.Errorf("Leftovers() = %v, %v", left, err)
	}
	for _, in := range insts {
		if st, _ := in.State(ctx); st != runtime.StateRemoved {
			t.Errorf("state of %s after Close = %q, want removed", in.Name(), st)
		}
	}
	if _, err := rt.Start(ctx, conformance.ServiceSpec("late", art)); err == nil {
		t.Errorf("start after Close: no error")
	}
	if err := rt.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestWithDirIsKept(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, local.WithDir(dir))
	in, err := rt.Start(t.Context(), conformance.ServiceSpec("svc-1", conformance.BuildTestService(t)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := in.(*local.Instance).DataDir(), filepath.Join(dir, "svc-1", "data"); got != want {
		t.Errorf("DataDir() = %s, want %s", got, want)
	}
	if err := rt.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "svc-1", "output.log")); err != nil {
		t.Errorf("a caller's dir must keep the logs after Close: %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	ctx := t.Context()
	t.Setenv("FAULTLINE_MUST_NOT_LEAK", "1")
	rt := newRuntime(t)
	spec := conformance.ServiceSpec("svc-1", conformance.BuildTestService(t))
	spec.Args = []string{"--listen={{listen}}", "{{port}}", "net={{netaddr}}", "{{datadir}}/sub", "plain"}
	spec.Env["ALL"] = "{{listen}} {{port}} {{netaddr}} {{datadir}}"
	spec.Env["PLAIN"] = "value"
	in, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	li := in.(*local.Instance)
	addr, dataDir := in.HostAddr(), li.DataDir()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	if _, err := strconv.Atoi(port); err != nil || !strings.HasPrefix(addr, "127.0.0.1:") || in.NetAddr() != addr {
		t.Fatalf("HostAddr() = %q, NetAddr() = %q: want the same 127.0.0.1:<port>", addr, in.NetAddr())
	}

	info := func() (args []string, env map[string]string) {
		t.Helper()
		_, body := httpDo(t, http.MethodGet, "http://"+in.HostAddr()+"/info")
		var got struct {
			Args []string
			Env  []string
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("GET /info: %v: %s", err, body)
		}
		env = map[string]string{}
		for _, kv := range got.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return got.Args, env
	}
	check := func() {
		t.Helper()
		args, env := info()
		wantArgs := []string{"--listen=" + addr, port, "net=" + addr, dataDir + "/sub", "plain"}
		if !slices.Equal(args, wantArgs) {
			t.Errorf("args = %q, want %q", args, wantArgs)
		}
		wantEnv := map[string]string{
			"LISTEN_ADDR": addr,
			"DATA_DIR":    dataDir,
			"ALL":         addr + " " + port + " " + addr + " " + dataDir,
			"PLAIN":       "value",
			"PATH":        os.Getenv("PATH"),
		}
		if home, ok := os.LookupEnv("HOME"); ok {
			wantEnv["HOME"] = home
		}
		if fmt.Sprint(env) != fmt.Sprint(wantEnv) {
			t.Errorf("env = %v\nwant  %v (the Spec's, PATH and HOME, nothing else)", env, wantEnv)
		}
	}
	check()
	// Port and data dir survive a restart.
	if err := in.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if in.HostAddr() != addr || li.DataDir() != dataDir {
		t.Errorf("after restart: %s %s, want %s %s", in.HostAddr(), li.DataDir(), addr, dataDir)
	}
	check()
}

func TestBadSpec(t *testing.T) {
	art := conformance.BuildTestService(t)
	notExec := filepath.Join(t.TempDir(), "not-exec")
	if err := os.WriteFile(notExec, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*runtime.Spec)
		want []string // all in the error
	}{
		{"image", func(s *runtime.Spec) { s.Artifact = runtime.Artifact{Image: "faultline/accounts:dev"} },
			[]string{"Spec.Artifact.Image", "binaries only", "FAULTLINE_RUNTIME=docker"}},
		{"dockerfile", func(s *runtime.Spec) { s.Artifact = runtime.Artifact{Dockerfile: "fixtures"} },
			[]string{"Spec.Artifact.Dockerfile", "FAULTLINE_RUNTIME=docker"}},
		{"no artifact", func(s *runtime.Spec) { s.Artifact = runtime.Artifact{} },
			[]string{"Spec.Artifact.Binary is empty"}},
		{"two artifacts", func(s *runtime.Spec) { s.Artifact.Image = "x" },
			[]string{"Spec.Artifact", "exactly one"}},
		{"missing binary", func(s *runtime.Spec) { s.Artifact = runtime.Artifact{Binary: "./bin/no-such-service"} },
			[]string{"Spec.Artifact.Binary", "bin/no-such-service", "build it first"}},
		{"not executable", func(s *runtime.Spec) { s.Artifact = runtime.Artifact{Binary: notExec} },
			[]string{"Spec.Artifact.Binary", "not an executable"}},
		{"bad name", func(s *runtime.Spec) { s.Name = "a/b" },
			[]string{"Spec.Name", "a/b"}},
		{"exits at once", func(s *runtime.Spec) { s.Env["LISTEN_ADDR"] = "not-an-address" },
			[]string{"exited before it was ready", "exit status 1", "testsvc: listen tcp"}},
		{"never healthy", func(s *runtime.Spec) { s.Health = "/nope"; s.StartTimeout = 500 * time.Millisecond },
			[]string{"not ready after 500ms", "404", "testsvc listening"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t)
			spec := conformance.ServiceSpec("svc-1", art)
			tc.edit(&spec)
			in, err := rt.Start(t.Context(), spec)
			if err == nil {
				t.Fatalf("start: no error, instance %v", in.HostAddr())
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not say %q", err, want)
				}
			}
			if pids := rt.Processes(); len(pids) != 0 {
				t.Errorf("after a failed start, Processes() = %v", pids)
			}
			// The name is free again.
			if _, err := rt.Start(t.Context(), conformance.ServiceSpec(spec.Name, art)); err != nil && tc.name != "bad name" {
				t.Errorf("start with the same name after a failed start: %v", err)
			}
		})
	}
	t.Run("duplicate name", func(t *testing.T) {
		rt := newRuntime(t)
		if _, err := rt.Start(t.Context(), conformance.ServiceSpec("svc-1", art)); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Start(t.Context(), conformance.ServiceSpec("svc-1", art)); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("second start of svc-1: %v, want 'already exists'", err)
		}
	})
}

// helperEnv makes TestHelperHarness act as a harness process for TestChildDiesWithHarness.
const helperEnv = "FAULTLINE_LOCAL_TEST_HELPER_BINARY"

// TestHelperHarness is not a test: run by TestChildDiesWithHarness in a child process,
// it starts an instance, prints its pid and waits to be killed.
func TestHelperHarness(t *testing.T) {
	bin := os.Getenv(helperEnv)
	if bin == "" {
		t.Skip("helper for TestChildDiesWithHarness")
	}
	rt, err := local.New(local.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := rt.Start(context.Background(), conformance.ServiceSpec("orphan", runtime.Artifact{Binary: bin}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pid %d\n", in.(*local.Instance).Pid())
	time.Sleep(time.Minute)
}

func TestChildDiesWithHarness(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux only")
	}
	art := conformance.BuildTestService(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHarness$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+art.Binary)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	pids := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var pid int
			if _, err := fmt.Sscanf(sc.Text(), "pid %d", &pid); err == nil {
				pids <- pid
				return
			}
		}
	}()
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(30 * time.Second):
		t.Fatal("the helper harness did not report its child's pid")
	}
	if !alive(pid) {
		t.Fatalf("child %d is not alive while its harness is", pid)
	}
	// The harness dies without running any cleanup.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still alive 5 s after its harness died", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive says whether pid is a live process (a zombie waiting for its reaper is dead).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// TestUserRunsTheInstanceAsThatUser: as root, Spec.User starts the instance's process as
// that user, with its data dir handed over so that it can write there; as anyone else,
// another user is refused with the fix.
func TestUserRunsTheInstanceAsThatUser(t *testing.T) {
	ctx := t.Context()
	rt := newRuntime(t)
	// The binary must be reachable by the user: not under root's own cache directory.
	dir, err := os.MkdirTemp("", "faultline-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "testsvc")
	b, err := os.ReadFile(conformance.BuildTestService(t).Binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := conformance.ServiceSpec("svc-user", runtime.Artifact{Binary: bin})
	spec.User = "nobody"
	in, err := rt.Start(ctx, spec)
	if os.Getuid() != 0 {
		if err == nil || !strings.Contains(err.Error(), `Spec.User "nobody"`) || !strings.Contains(err.Error(), "only root") {
			t.Fatalf("start as nobody without root: %v; want a refusal naming Spec.User and why", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("start as nobody: %v", err)
	}
	_, body := httpDo(t, http.MethodGet, "http://"+in.HostAddr()+"/info")
	var info struct{ UID int }
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("GET /info: %v: %s", err, body)
	}
	if info.UID != 65534 {
		t.Errorf("the instance runs as uid %d, want nobody's 65534", info.UID)
	}
	if code, body := httpDoBody(t, http.MethodPost, "http://"+in.HostAddr()+"/data", "kept"); code != http.StatusNoContent {
		t.Errorf("POST /data as nobody: %d %s: the data dir must be the user's", code, body)
	}
	if err := in.Stop(ctx, 5*time.Second); err != nil {
		t.Errorf("stop an instance of another user: %v", err)
	}
}

// TestKillTakesTheProcessesThatLeftTheGroup: a server whose worker left the process
// group (setsid, as PostgreSQL's backends do) is killed whole: Kill returns only once the
// worker is gone too, so that a restart finds nothing of the old one holding its port,
// files or shared memory. It fails without killTree: the worker survives the group's
// SIGKILL.
func TestKillTakesTheProcessesThatLeftTheGroup(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid on this machine")
	}
	ctx := t.Context()
	rt := newRuntime(t)
	art := conformance.BuildTestService(t)
	spec := conformance.ServiceSpec("forks", runtime.Artifact{Binary: "/bin/sh"})
	// The leader is a shell; the server is its child in a session of its own.
	spec.Args = []string{"-c", "setsid " + art.Binary + " & wait"}
	in, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	_, body := httpDo(t, http.MethodGet, "http://"+in.HostAddr()+"/info")
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.Pid == 0 {
		t.Fatalf("/info: %q (%v)", body, err)
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	// The process itself, not its port: on a shared machine another run may bind the
	// port the moment it is free (a clean-clone run of make test once saw that).
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", info.Pid))
	if f := strings.Fields(string(b)); len(f) > 2 && f[2] != "Z" {
		t.Fatalf("the server (pid %d) outside the group still runs after Kill: %s", info.Pid, b)
	}
}

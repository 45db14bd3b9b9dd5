package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/harness/runtime"
)

// LeftoverLister is what a backend implements so that the suite can prove Close left
// nothing behind: it lists, in words a person can act on, every process, container,
// network or directory of the run that still exists. The suite calls it after Close and
// wants an empty list; a backend without it gets the address checks only.
type LeftoverLister interface {
	Leftovers(ctx context.Context) ([]string, error)
}

// subtestTimeout bounds each subtest, Docker included.
const subtestTimeout = 2 * time.Minute

// Option customises Run.
type Option func(*runOptions)

type runOptions struct{ parallel bool }

// Parallel runs the subtests side by side (t.Parallel), for a backend whose runs share
// nothing and mostly wait on something else (a cluster's controllers); go test's
// -parallel bounds how many at once.
func Parallel() Option { return func(o *runOptions) { o.parallel = true } }

// Run runs the suite against the backend newRuntime makes, one fresh runtime per
// subtest (the suite closes it). artifact is testsvc as BuildTestService returns it, or
// whatever the backend runs it from.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, artifact runtime.Artifact, opts ...Option) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &suite{newRuntime: newRuntime, artifact: artifact}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, ctx context.Context, rt runtime.Runtime)
	}{
		{"start", s.start},
		{"kill", s.kill},
		{"stop", s.stop},
		{"pause and resume", s.pauseResume},
		{"restart keeps data", s.restart},
		{"partition", s.partition},
		{"health", s.health},
		{"named ports", s.namedPorts},
		{"exec", s.exec},
		{"logs", s.logs},
		{"proxy host", s.proxyHost},
		{"link across a kill", s.linkAcrossKill},
		{"teardown", s.teardown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o.parallel {
				t.Parallel()
			}
			ctx, cancel := context.WithTimeout(t.Context(), subtestTimeout)
			defer cancel()
			rt := newRuntime(t)
			t.Cleanup(func() {
				if err := rt.Close(context.Background()); err != nil {
					t.Errorf("close %s runtime: %v", rt.Name(), err)
				}
			})
			tc.test(t, ctx, rt)
		})
	}
}

type suite struct {
	newRuntime func(t *testing.T) runtime.Runtime
	artifact   runtime.Artifact
}

func (s *suite) spec(name string) runtime.Spec { return ServiceSpec(name, s.artifact) }

// startInstance starts spec or ends the test.
func startInstance(t *testing.T, ctx context.Context, rt runtime.Runtime, spec runtime.Spec) runtime.Instance {
	t.Helper()
	in, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start %s on %s: %v", spec.Name, rt.Name(), err)
	}
	return in
}

// wantState checks the instance's state now.
func wantState(t *testing.T, ctx context.Context, in runtime.Instance, want runtime.State) {
	t.Helper()
	got, err := in.State(ctx)
	if err != nil {
		t.Fatalf("state of %s: %v", in.Name(), err)
	}
	if got != want {
		t.Fatalf("state of %s = %q, want %q", in.Name(), got, want)
	}
}

// call does one request with a fresh connection (a pooled one would outlive the
// faults) and returns the status and body.
func call(ctx context.Context, method, addr, path, body string, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// get wants 200 from GET addr+path and returns the body.
func get(t *testing.T, ctx context.Context, addr, path string) string {
	t.Helper()
	code, body, err := call(ctx, http.MethodGet, addr, path, "", 5*time.Second)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s%s: status %d (%s), want 200", addr, path, code, body)
	}
	return body
}

// eventually retries check until it returns nil or within passes, then fails with the
// last error.
func eventually(t *testing.T, ctx context.Context, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// answers is nil once GET addr/healthz gives 200.
func answers(ctx context.Context, addr string) error {
	code, body, err := call(ctx, http.MethodGet, addr, "/healthz", "", 2*time.Second)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s/healthz: status %d (%s)", addr, code, body)
	}
	return nil
}

func (s *suite) start(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	spec := s.spec("svc-1")
	in := startInstance(t, ctx, rt, spec)
	if in.Name() != spec.Name || in.Spec().Name != spec.Name {
		t.Errorf("Name() = %q, Spec().Name = %q, want %q", in.Name(), in.Spec().Name, spec.Name)
	}
	if in.HostAddr() == "" || in.NetAddr() == "" {
		t.Fatalf("HostAddr() = %q, NetAddr() = %q: want both set", in.HostAddr(), in.NetAddr())
	}
	wantState(t, ctx, in, runtime.StateRunning)
	// Start returned, so the instance is ready now: no retry.
	if got := get(t, ctx, in.HostAddr(), "/healthz"); got != "ok" {
		t.Errorf("GET /healthz = %q, want ok", got)
	}
	if got := get(t, ctx, in.HostAddr(), "/echo?msg=hello"); got != "hello" {
		t.Errorf("GET /echo?msg=hello = %q, want hello", got)
	}
	if rt.RunID() == "" {
		t.Errorf("RunID() is empty")
	}
}

func (s *suite) kill(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	in := startInstance(t, ctx, rt, s.spec("svc-1"))
	if sh, ok := runtime.AsSelfHealing(in); ok {
		selfHealingKill(t, ctx, in, sh)
		return
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
	wantState(t, ctx, in, runtime.StateExited)
	if err := answers(ctx, in.HostAddr()); err == nil {
		t.Fatalf("a killed instance still answers at %s", in.HostAddr())
	}
}

// selfHealingKill checks a runtime whose platform replaces what dies: after Kill the
// instance comes back by itself as a new incarnation, with no Start; after HoldDown it
// stays down until Start.
func selfHealingKill(t *testing.T, ctx context.Context, in runtime.Instance, sh runtime.SelfHealing) {
	before, err := sh.Incarnation(ctx)
	if err != nil || before == "" {
		t.Fatalf("incarnation of a running instance = %q, %v; want one", before, err)
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
	eventually(t, ctx, time.Minute, "the platform brings the killed instance back by itself", func() error {
		now, err := sh.Incarnation(ctx)
		if err != nil {
			return err
		}
		if now == before {
			return fmt.Errorf("incarnation is still %s, the killed one", before)
		}
		if st, err := in.State(ctx); err != nil || st != runtime.StateRunning {
			return fmt.Errorf("state %q, %v", st, err)
		}
		return answers(ctx, in.HostAddr())
	})
	if err := sh.HoldDown(ctx); err != nil {
		t.Fatalf("hold down: %v", err)
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatalf("kill while held down: %v", err)
	}
	// Held down, it must stay down: watch it for longer than a replacement took above.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		wantState(t, ctx, in, runtime.StateExited)
		if err := answers(ctx, in.HostAddr()); err == nil {
			t.Fatalf("an instance killed while held down answers at %s", in.HostAddr())
		}
	}
	if err := in.Start(ctx); err != nil {
		t.Fatalf("start after a held kill: %v", err)
	}
	wantState(t, ctx, in, runtime.StateRunning)
	get(t, ctx, in.HostAddr(), "/healthz")
}

// wantEnded checks that an instance Kill or Stop just ended is exited, where the platform
// does not bring it back by itself (there it may be back already).
func wantEnded(t *testing.T, ctx context.Context, in runtime.Instance) {
	t.Helper()
	if _, ok := runtime.AsSelfHealing(in); !ok {
		wantState(t, ctx, in, runtime.StateExited)
	}
}

// stop stops an instance gracefully, with SIGTERM and with a StopSignal of its own:
// the program must get that signal, and exit on it without waiting for the kill.
func (s *suite) stop(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	for i, signal := range []string{"", "SIGQUIT"} {
		spec := s.spec(fmt.Sprintf("svc-%d", i+1))
		spec.StopSignal = signal
		want := "testsvc got SIGTERM"
		if signal != "" {
			want = "testsvc got " + signal
		}
		in := startInstance(t, ctx, rt, spec)
		const timeout = 10 * time.Second
		began := time.Now()
		if err := in.Stop(ctx, timeout); err != nil {
			t.Fatalf("stop %s: %v", spec.Name, err)
		}
		if took := time.Since(began); took >= timeout {
			t.Errorf("stop %s took %s: the service exits on its stop signal, so it should not wait for the %s kill", spec.Name, took, timeout)
		}
		wantEnded(t, ctx, in)
		eventually(t, ctx, 10*time.Second, "logs show "+want, func() error {
			logs, err := in.Logs(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(logs), want) {
				return fmt.Errorf("no %q in the logs of %s:\n%s", want, spec.Name, logs)
			}
			return nil
		})
	}
}

func (s *suite) pauseResume(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	in := startInstance(t, ctx, rt, s.spec("svc-1"))
	err := in.Pause(ctx)
	if errors.Is(err, runtime.ErrUnsupported) {
		if rerr := in.Resume(ctx); !errors.Is(rerr, runtime.ErrUnsupported) {
			t.Errorf("pause is unsupported but resume says %v", rerr)
		}
		wantState(t, ctx, in, runtime.StateRunning)
		t.Skipf("%s runtime: %v", rt.Name(), err)
	}
	if err != nil {
		t.Fatalf("pause: %v", err)
	}
	wantState(t, ctx, in, runtime.StatePaused)
	_, _, err = call(ctx, http.MethodGet, in.HostAddr(), "/healthz", "", time.Second)
	var nerr net.Error
	switch {
	case err == nil:
		t.Fatalf("a paused instance answered at %s", in.HostAddr())
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		// hangs, as a frozen process should
	default:
		t.Fatalf("request to a paused instance: %v; want it to hang until the 1 s timeout", err)
	}
	if err := in.Resume(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	wantState(t, ctx, in, runtime.StateRunning)
	eventually(t, ctx, 10*time.Second, "answers after resume", func() error { return answers(ctx, in.HostAddr()) })
}

func (s *suite) restart(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	in := startInstance(t, ctx, rt, s.spec("svc-1"))
	want := "written before the restart by " + rt.RunID()
	if code, body, err := call(ctx, http.MethodPost, in.HostAddr(), "/data", want, 5*time.Second); err != nil || code != http.StatusNoContent {
		t.Fatalf("POST /data: status %d (%s), err %v", code, body, err)
	}
	for _, fault := range []struct {
		name string
		do   func() error
	}{
		{"kill", func() error { return in.Kill(ctx) }},
		{"stop", func() error { return in.Stop(ctx, 10*time.Second) }},
	} {
		if err := fault.do(); err != nil {
			t.Fatalf("%s: %v", fault.name, err)
		}
		wantEnded(t, ctx, in)
		if err := in.Start(ctx); err != nil {
			t.Fatalf("start after %s: %v", fault.name, err)
		}
		wantState(t, ctx, in, runtime.StateRunning)
		// HostAddr may change across a restart: read it again.
		if got := get(t, ctx, in.HostAddr(), "/data"); got != want {
			t.Fatalf("after %s and start, GET /data = %q, want %q (the data dir must survive restarts)", fault.name, got, want)
		}
	}
}

// namedPorts starts an instance with two named ports beside its main one: each is bound
// (the placeholders say where), reached at its PortNetAddr by other instances, and kept
// across a restart; an unknown name is an error that lists the known ones.
func (s *suite) namedPorts(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	spec := s.spec("svc-1")
	spec.Ports = []runtime.NamedPort{{Name: "peer", Port: 9001}, {Name: "admin", Port: 9002}}
	spec.Env["LISTEN_MORE"] = runtime.ListenPlaceholder("peer") + "," + runtime.ListenPlaceholder("admin")
	in := startInstance(t, ctx, rt, spec)
	pa, ok := in.(runtime.PortAddrs)
	if !ok {
		t.Fatalf("%T does not tell its named ports (runtime.PortAddrs)", in)
	}
	addrs := map[string]string{}
	for _, p := range spec.Ports {
		addr, err := pa.PortNetAddr(p.Name)
		if err != nil {
			t.Fatalf("PortNetAddr(%s): %v", p.Name, err)
		}
		if addr == in.NetAddr() {
			t.Fatalf("PortNetAddr(%s) = %s, the main port's address", p.Name, addr)
		}
		addrs[p.Name] = addr
	}
	// Within a few seconds, not at once: a cluster's Service dataplane (kube-proxy's rules)
	// follows a replaced pod's endpoints a moment after they are published, and Start can
	// wait only for what the API shows.
	reach := func(when string) {
		for name, addr := range addrs {
			eventually(t, ctx, 10*time.Second, when+": port "+name+" at "+addr+" answers 200", func() error {
				code, body, err := call(ctx, http.MethodGet, in.HostAddr(), "/fetch?addr="+addr, "", 5*time.Second)
				if err == nil && (code != http.StatusOK || body != "200") {
					err = fmt.Errorf("status %d (%s)", code, body)
				}
				return err
			})
		}
	}
	reach("after start")
	if _, err := pa.PortNetAddr("client"); err == nil || !strings.Contains(err.Error(), "peer, admin") {
		t.Errorf("PortNetAddr(client) = %v, want an error listing peer, admin", err)
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatalf("start after kill: %v", err)
	}
	for name, addr := range addrs {
		if got, _ := pa.PortNetAddr(name); got != addr {
			t.Errorf("after a restart, port %s is at %s, was %s", name, got, addr)
		}
	}
	reach("after a restart")
}

// exec runs commands beside an instance: the exit code and output come back, the
// placeholders are the instance's, and an empty command is an error.
func (s *suite) exec(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	in := startInstance(t, ctx, rt, s.spec("svc-1"))
	ex, ok := in.(runtime.Execer)
	if !ok {
		t.Fatalf("%T cannot run a command beside the instance (runtime.Execer)", in)
	}
	// The program as the instance sees it: the binary on the host, /app in its image.
	prog := "/app"
	if rt.Name() == "local" {
		prog = s.artifact.Binary
	}
	code, out, err := ex.Exec(ctx, []string{prog, "exit", "3"})
	if err != nil || code != 3 || !strings.Contains(string(out), "testsvc exiting with code 3") {
		t.Errorf("exec exit 3 = %d, %q, %v; want 3 and what it wrote", code, out, err)
	}
	// {{netaddr}} may be a Service that the node routes a moment after the start (as
	// named_ports allows for too).
	eventually(t, ctx, 10*time.Second, "exec probe {{netaddr}} exits 0", func() error {
		if code, out, err := ex.Exec(ctx, []string{prog, "probe", runtime.PlaceholderNetAddr}); err != nil || code != 0 {
			return fmt.Errorf("exit %d, %q, %v", code, out, err)
		}
		return nil
	})
	if _, _, err := ex.Exec(ctx, nil); err == nil {
		t.Error("exec of an empty command: no error")
	}
}

func (s *suite) partition(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	a := startInstance(t, ctx, rt, s.spec("svc-a"))
	b := startInstance(t, ctx, rt, s.spec("svc-b"))
	// reaches is nil once b can reach a at a's NetAddr.
	reaches := func() error {
		code, body, err := call(ctx, http.MethodGet, b.HostAddr(), "/fetch?addr="+a.NetAddr(), "", 5*time.Second)
		if err != nil {
			return fmt.Errorf("ask %s: %w", b.Name(), err)
		}
		if code != http.StatusOK || body != "200" {
			return fmt.Errorf("%s fetching %s: status %d (%s)", b.Name(), a.NetAddr(), code, body)
		}
		return nil
	}
	eventually(t, ctx, 15*time.Second, "b reaches a before the partition", reaches)

	err := a.Disconnect(ctx)
	if errors.Is(err, runtime.ErrUnsupported) {
		t.Skipf("%s runtime: %v", rt.Name(), err)
	}
	if err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	healed := false
	t.Cleanup(func() {
		if !healed {
			a.Reconnect(context.Background())
		}
	})
	eventually(t, ctx, 15*time.Second, "b cannot reach a once a is disconnected", func() error {
		if err := reaches(); err == nil {
			return fmt.Errorf("%s still reaches %s at %s", b.Name(), a.Name(), a.NetAddr())
		}
		return nil
	})
	eventually(t, ctx, 15*time.Second, "a still answers the harness while disconnected", func() error {
		return answers(ctx, a.HostAddr())
	})
	if err := a.Reconnect(ctx); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	healed = true
	eventually(t, ctx, 20*time.Second, "b reaches a again after reconnect", reaches)
}

func (s *suite) health(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	// Health answers 503 for a while after the port opens: Start must wait for 200.
	slow := s.spec("svc-slow")
	slow.Env["HEALTH_DELAY"] = "1500ms"
	in := startInstance(t, ctx, rt, slow)
	if code, body, err := call(ctx, http.MethodGet, in.HostAddr(), "/healthz", "", 5*time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("right after Start, GET /healthz: status %d (%s), err %v: Start must wait for health, not just the port", code, body, err)
	}

	// No Health: ready once the port accepts connections.
	tcp := s.spec("svc-tcp")
	tcp.Health = ""
	in = startInstance(t, ctx, rt, tcp)
	get(t, ctx, in.HostAddr(), "/healthz")

	// Health never answers 200: Start fails within its timeout.
	bad := s.spec("svc-bad")
	bad.Health = "/no-such-path"
	bad.StartTimeout = 2 * time.Second
	began := time.Now()
	if _, err := rt.Start(ctx, bad); err == nil {
		t.Fatalf("start with a health path that answers 404: no error")
	} else {
		t.Logf("start with a health path that answers 404: %v", err)
	}
	if took := time.Since(began); took > bad.StartTimeout+30*time.Second {
		t.Errorf("failed start took %s, StartTimeout %s", took, bad.StartTimeout)
	}
}

func (s *suite) logs(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	in := startInstance(t, ctx, rt, s.spec("svc-1"))
	get(t, ctx, in.HostAddr(), "/echo?msg=marker-7f3a")
	for _, want := range []string{"testsvc listening", "echo marker-7f3a"} { // stderr, stdout
		eventually(t, ctx, 10*time.Second, "logs hold "+want, func() error {
			logs, err := in.Logs(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(logs), want) {
				return fmt.Errorf("no %q in logs:\n%s", want, logs)
			}
			return nil
		})
	}
}

// linked starts svc-1 and a proxy host with one Toxiproxy link to it, and returns the
// instance, the link and the loopback address that reaches the instance through it.
func (s *suite) linked(t *testing.T, ctx context.Context, rt runtime.Runtime) (runtime.Instance, *toxiclient.Proxy, string) {
	t.Helper()
	in := startInstance(t, ctx, rt, s.spec("svc-1"))
	ph, err := rt.StartProxyHost(ctx, 1)
	if err != nil {
		t.Fatalf("start proxy host: %v", err)
	}
	client := toxiclient.NewClient(ph.APIAddr())
	var proxy *toxiclient.Proxy
	eventually(t, ctx, 15*time.Second, "create a proxy", func() error {
		proxy, err = client.CreateProxy("svc-1", ph.ListenAddr(0), in.NetAddr())
		return err
	})
	addr, err := ph.HostAddr(ctx, proxy.Listen)
	if err != nil {
		t.Fatalf("host address of proxy listening on %s: %v", proxy.Listen, err)
	}
	if ph.NetAddr(proxy.Listen) == "" {
		t.Errorf("NetAddr(%q) is empty", proxy.Listen)
	}
	return in, proxy, addr
}

func (s *suite) proxyHost(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	_, proxy, addr := s.linked(t, ctx, rt)
	eventually(t, ctx, 15*time.Second, "reach the instance through its proxy", func() error {
		_, body, err := call(ctx, http.MethodGet, addr, "/echo?msg=proxied", "", 2*time.Second)
		if err == nil && body != "proxied" {
			err = fmt.Errorf("GET /echo?msg=proxied through %s = %q", addr, body)
		}
		return err
	})

	const latency = 300 * time.Millisecond
	if _, err := proxy.AddToxic("slow", "latency", "downstream", 1.0, toxiclient.Attributes{"latency": latency.Milliseconds()}); err != nil {
		t.Fatalf("add latency toxic: %v", err)
	}
	began := time.Now()
	get(t, ctx, addr, "/echo?msg=slow")
	if took := time.Since(began); took < latency {
		t.Errorf("a request through a %s latency toxic took %s", latency, took)
	}
}

// linkAcrossKill kills an instance behind a Toxiproxy link, holds it down while callers
// keep dialling through the link, and starts it again: the link must serve within 10 s of
// the start. Toxiproxy dials each upstream inside its accept loop with no timeout, so one
// dial made while the instance was down that hangs, rather than fails, freezes the whole
// link for as long as the connect retries (two minutes).
func (s *suite) linkAcrossKill(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	in, _, addr := s.linked(t, ctx, rt)
	through := func() error {
		_, body, err := call(ctx, http.MethodGet, addr, "/echo?msg=linked", "", 2*time.Second)
		if err == nil && body != "linked" {
			err = fmt.Errorf("GET /echo?msg=linked through %s = %q", addr, body)
		}
		return err
	}
	eventually(t, ctx, 15*time.Second, "reach the instance through its link", through)
	if sh, ok := runtime.AsSelfHealing(in); ok {
		if err := sh.HoldDown(ctx); err != nil {
			t.Fatalf("hold down: %v", err)
		}
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
	// Callers keep trying while it is down: each try is a dial of the link's upstream.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if through() == nil {
			t.Fatalf("a killed instance held down answered through its link")
		}
	}
	if err := in.Start(ctx); err != nil {
		t.Fatalf("start after the kill: %v", err)
	}
	eventually(t, ctx, 10*time.Second, "the link serves again after the start", through)
}

func (s *suite) teardown(t *testing.T, ctx context.Context, rt runtime.Runtime) {
	a := startInstance(t, ctx, rt, s.spec("svc-a"))
	b := startInstance(t, ctx, rt, s.spec("svc-b"))
	ph, err := rt.StartProxyHost(ctx, 2)
	if err != nil {
		t.Fatalf("start proxy host: %v", err)
	}
	addrs := []string{a.HostAddr(), b.HostAddr(), ph.APIAddr()}

	if err := rt.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, addr := range addrs {
		eventually(t, ctx, 10*time.Second, "nothing answers at "+addr+" after Close", func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return nil
			}
			c.Close()
			return fmt.Errorf("%s still accepts connections", addr)
		})
	}
	for _, in := range []runtime.Instance{a, b} {
		if st, err := in.State(ctx); err == nil && (st == runtime.StateRunning || st == runtime.StatePaused) {
			t.Errorf("after Close, state of %s = %q", in.Name(), st)
		}
	}
	if l, ok := rt.(LeftoverLister); ok {
		left, err := l.Leftovers(ctx)
		if err != nil {
			t.Fatalf("leftovers: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("after Close, the run left:\n  %s", strings.Join(left, "\n  "))
		}
	} else {
		t.Logf("%s runtime has no Leftovers method: checked only that nothing answers", rt.Name())
	}
	if err := rt.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
}

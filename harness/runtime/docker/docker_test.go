package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/docker"
)

// setup skips the test without Docker and builds the binaries the tests run (the proxy
// and testsvc) before any test clock starts: on a busy machine a cold build is slow.
func setup(t *testing.T) runtime.Artifact {
	t.Helper()
	requireDocker(t)
	proxyBinary(t)
	return conformance.BuildTestService(t)
}

// requireDocker skips the test when no engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	dockerOnce.Do(func() { dockerUp = docker.Available(context.Background()) })
	if !dockerUp {
		t.Skip("docker engine not reachable: skipping docker backend tests")
	}
}

var (
	dockerOnce sync.Once
	dockerUp   bool
)

// proxyBinary builds our Toxiproxy server once per test binary: cmd/faultline-toxiproxy
// when the module has it, else Toxiproxy's own server (both take -host and -port).
func proxyBinary(t *testing.T) string {
	t.Helper()
	proxyOnce.Do(func() {
		b := build.New()
		ctx := context.Background()
		if _, err := os.Stat(filepath.Join("..", "..", "..", "cmd", "faultline-toxiproxy")); err == nil {
			proxyPath, proxyErr = b.Package(ctx, "github.com/faultline/faultline/cmd/faultline-toxiproxy")
			if proxyErr == nil {
				return
			}
			t.Logf("build cmd/faultline-toxiproxy: %v; falling back to toxiproxy's server", proxyErr)
		}
		proxyPath, proxyErr = b.Package(ctx, "github.com/Shopify/toxiproxy/v2/cmd/server")
	})
	if proxyErr != nil {
		t.Fatalf("build the proxy binary: %v", proxyErr)
	}
	return proxyPath
}

var (
	proxyOnce sync.Once
	proxyPath string
	proxyErr  error
)

// newRuntime starts a docker runtime for the test and, at its end, closes it and checks
// that it left nothing behind. Its logs are shown when the test fails.
func newRuntime(t *testing.T, logs *syncBuffer, opts ...docker.Option) *docker.Runtime {
	t.Helper()
	requireDocker(t)
	if logs == nil {
		logs = &syncBuffer{}
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]docker.Option{docker.WithLogger(logger), docker.WithProxyBinary(proxyBinary(t))}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := docker.New(ctx, opts...)
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		left, err := rt.Leftovers(ctx)
		if err != nil {
			t.Errorf("leftovers: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("run %s left behind: %s", rt.RunID(), strings.Join(left, ", "))
		}
		if t.Failed() || os.Getenv("FAULTLINE_TEST_LOGS") != "" {
			t.Logf("runtime logs:\n%s", logs.String())
		}
	})
	return rt
}

func TestConformance(t *testing.T) {
	artifact := setup(t)
	conformance.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t, nil) }, artifact)
}

// dockerClient is a plain client for checks behind the runtime's back.
func dockerClient(t *testing.T) client.APIClient {
	t.Helper()
	requireDocker(t)
	dc, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	return dc
}

func imageOf(t *testing.T, ctx context.Context, dc client.APIClient, in runtime.Instance) string {
	t.Helper()
	res, err := dc.ContainerInspect(ctx, in.(*docker.Instance).ContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", in.Name(), err)
	}
	return res.Container.Image
}

func TestImageIsBuiltOncePerBinaryHashAndKeptAcrossRuns(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A repository of the test's own, so that the first run has to build.
	repo := fmt.Sprintf("faultline-test-%d", time.Now().UnixNano())
	t.Cleanup(func() { removeImages(t, dc, repo) })

	var logs1 syncBuffer
	rt1 := newRuntime(t, &logs1, docker.WithImageRepo(repo))
	began := time.Now()
	var wg sync.WaitGroup
	ins := make([]runtime.Instance, 3)
	errs := make([]error, 3)
	for i := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ins[i], errs[i] = rt1.Start(ctx, conformance.ServiceSpec(fmt.Sprintf("svc-%d", i), artifact))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start three instances at once: %v", err)
	}
	t.Logf("first run: build the image and start 3 containers: %s", time.Since(began).Round(time.Millisecond))
	if n := strings.Count(logs1.String(), "msg=\"built image\""); n != 1 {
		t.Errorf("three concurrent starts built the image %d times, want once; logs:\n%s", n, logs1.String())
	}
	id := imageOf(t, ctx, dc, ins[0])
	for _, in := range ins[1:] {
		if got := imageOf(t, ctx, dc, in); got != id {
			t.Errorf("%s runs image %s, %s runs %s: want one image", ins[0].Name(), id, in.Name(), got)
		}
	}
	img, err := dc.ImageInspect(ctx, id)
	if err != nil {
		t.Fatalf("inspect image %s: %v", id, err)
	}
	if img.Config == nil || img.Config.Labels[docker.LabelImage] != "true" {
		t.Errorf("image %s lacks the label %s=true", id, docker.LabelImage)
	}
	if len(img.RepoTags) == 0 || !strings.HasPrefix(img.RepoTags[0], repo+"/testsvc:") {
		t.Errorf("image tags %v, want %s/testsvc:<hash>", img.RepoTags, repo)
	}

	var logs2 syncBuffer
	rt2 := newRuntime(t, &logs2, docker.WithImageRepo(repo))
	began = time.Now()
	in, err := rt2.Start(ctx, conformance.ServiceSpec("svc-0", artifact))
	if err != nil {
		t.Fatalf("second run: start: %v", err)
	}
	t.Logf("second run: start a container from the kept image: %s", time.Since(began).Round(time.Millisecond))
	if got := imageOf(t, ctx, dc, in); got != id {
		t.Errorf("second run runs image %s, want the first run's %s", got, id)
	}
	if strings.Contains(logs2.String(), "built image") {
		t.Errorf("second run built the image again; logs:\n%s", logs2.String())
	}
}

func removeImages(t *testing.T, dc client.APIClient, repo string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	imgs, err := dc.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", docker.LabelImage+"=true")})
	if err != nil {
		t.Errorf("list images: %v", err)
		return
	}
	for _, img := range imgs.Items {
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, repo+"/") {
				if _, err := dc.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
					t.Errorf("remove image %s: %v", tag, err)
				}
			}
		}
	}
}

func TestReapRemovesOnlyTheLeftoversOfDeadRuns(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	in, err := rt.Start(ctx, conformance.ServiceSpec("svc-1", artifact))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	image := imageOf(t, ctx, dc, in)

	// deadRun builds the run while its owner lives (so that no parallel test's reaper
	// takes it half-made) and returns once the owner is dead.
	dead := deadRun(t, ctx, dc, image, 1)
	host, _ := os.Hostname()
	liveRun := fmt.Sprintf("test-live-%d", time.Now().UnixNano())
	liveNet, err := dc.NetworkCreate(ctx, "faultline-"+liveRun, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{
		docker.LabelRun:     liveRun,
		docker.LabelPID:     strconv.Itoa(os.Getpid()),
		docker.LabelStarted: strconv.FormatInt(time.Now().Unix(), 10),
		docker.LabelHost:    host,
	}})
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() { dc.NetworkRemove(context.Background(), liveNet.ID, client.NetworkRemoveOptions{}) })

	// What this Reap counts says nothing: a runtime started by a parallel test, or by
	// another package's tests, reaps at its start and may take the dead run first. What
	// matters is that nothing of the dead run is left and the live runs are untouched.
	if _, err := docker.Reap(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("reap: %v", err)
	}
	if left := runResources(t, ctx, dc, dead); len(left) > 0 {
		t.Errorf("the dead run %s still has: %s", dead, strings.Join(left, ", "))
	}
	if _, err := dc.NetworkInspect(ctx, liveNet.ID, client.NetworkInspectOptions{}); err != nil {
		t.Errorf("reap removed the network of a live run: %v", err)
	}
	if st, err := in.State(ctx); err != nil || st != runtime.StateRunning {
		t.Errorf("after reap, this run's instance is %q (%v), want running", st, err)
	}
}

func TestStartReadsThePublishedPortAgain(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	in, err := rt.Start(ctx, conformance.ServiceSpec("svc-1", artifact))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	for _, fault := range []struct {
		name string
		do   func() error
	}{
		{"stop", func() error { return in.Stop(ctx, 5*time.Second) }},
		{"kill", func() error { return in.Kill(ctx) }},
		{"pause, kill", func() error {
			if err := in.Pause(ctx); err != nil {
				return err
			}
			return in.Kill(ctx)
		}},
	} {
		before := in.HostAddr()
		if err := fault.do(); err != nil {
			t.Fatalf("%s: %v", fault.name, err)
		}
		began := time.Now()
		if err := in.Start(ctx); err != nil {
			t.Fatalf("start after %s: %v", fault.name, err)
		}
		t.Logf("%s, start: ready again in %s; host address %s -> %s", fault.name, time.Since(began).Round(time.Millisecond), before, in.HostAddr())
		if want := published(t, ctx, dc, in); in.HostAddr() != want {
			t.Errorf("after %s and start, HostAddr() = %s, Docker publishes %s", fault.name, in.HostAddr(), want)
		}
		if code, err := status(ctx, in.HostAddr(), "/healthz", 2*time.Second); err != nil || code != http.StatusOK {
			t.Errorf("after %s and start, GET %s/healthz: %d, %v", fault.name, in.HostAddr(), code, err)
		}
	}

	// As in the local backend: Start wants an exited instance, Kill and Stop leave an
	// exited one as it is, Pause wants a running one.
	if err := in.Start(ctx); err == nil {
		t.Errorf("start of a running instance: no error")
	}
	if err := in.Kill(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := in.Kill(ctx); err != nil {
		t.Errorf("kill of an exited instance: %v, want nothing done", err)
	}
	if err := in.Stop(ctx, time.Second); err != nil {
		t.Errorf("stop of an exited instance: %v, want nothing done", err)
	}
	if err := in.Pause(ctx); !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("pause of an exited instance: %v, want ErrNotRunning", err)
	}
}

// published is the host address Docker reports for the instance's port.
func published(t *testing.T, ctx context.Context, dc client.APIClient, in runtime.Instance) string {
	t.Helper()
	res, err := dc.ContainerInspect(ctx, in.(*docker.Instance).ContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", in.Name(), err)
	}
	for port, bs := range res.Container.NetworkSettings.Ports {
		if int(port.Num()) == in.Spec().Port && len(bs) > 0 {
			host, _, _ := net.SplitHostPort(in.HostAddr())
			return net.JoinHostPort(host, bs[0].HostPort)
		}
	}
	t.Fatalf("%s: port %d is not published", in.Name(), in.Spec().Port)
	return ""
}

func TestDisconnectCutsTheAliasButKeepsThePublishedPort(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	in, err := rt.Start(ctx, conformance.ServiceSpec("svc-1", artifact))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ph, err := rt.StartProxyHost(ctx, 2)
	if err != nil {
		t.Fatalf("start proxy host: %v", err)
	}
	if got, want := ph.NetAddr(ph.ListenAddr(1)), "toxiproxy:20001"; got != want {
		t.Errorf("NetAddr(ListenAddr(1)) = %q, want %q", got, want)
	}
	proxy, err := toxiclient.NewClient(ph.APIAddr()).CreateProxy("svc-1", ph.ListenAddr(0), in.NetAddr())
	if err != nil {
		t.Fatalf("create proxy: %v", err)
	}
	through, err := ph.HostAddr(ctx, proxy.Listen)
	if err != nil {
		t.Fatalf("proxy host address of %s: %v", proxy.Listen, err)
	}
	viaProxy := func() error {
		code, err := status(ctx, through, "/healthz", 2*time.Second)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		return err
	}
	eventually(t, 10*time.Second, "reach the instance through the proxy", viaProxy)

	if err := in.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if err := in.Disconnect(ctx); err != nil {
		t.Errorf("disconnect again: %v, want nothing done", err)
	}
	if st, err := in.State(ctx); err != nil || st != runtime.StateRunning {
		t.Errorf("disconnected instance is %q (%v), want running", st, err)
	}
	if want := published(t, ctx, dc, in); in.HostAddr() != want {
		t.Errorf("after disconnect, HostAddr() = %s, Docker publishes %s", in.HostAddr(), want)
	}
	if code, err := status(ctx, in.HostAddr(), "/healthz", 2*time.Second); err != nil || code != http.StatusOK {
		t.Errorf("disconnected instance at its published port %s: %d, %v; want 200", in.HostAddr(), code, err)
	}
	if err := viaProxy(); err == nil {
		t.Errorf("the proxy still reaches %s after disconnect", in.NetAddr())
	}

	if err := in.Reconnect(ctx); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	eventually(t, 15*time.Second, "reach the instance through the proxy after reconnect (by its alias)", viaProxy)
	if want := published(t, ctx, dc, in); in.HostAddr() != want {
		t.Errorf("after reconnect, HostAddr() = %s, Docker publishes %s", in.HostAddr(), want)
	}
}

func TestDockerfileArtifactIsBuiltFromItsContext(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	dir := t.TempDir()
	bin, err := os.ReadFile(artifact.Binary)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY --chown=65534:65534 data/ /data/\nCOPY app /app\nUSER 65534:65534\nENTRYPOINT [\"/app\"]\n"),
		"app":        bin,
		"data/.keep": nil,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	repo := fmt.Sprintf("faultline-test-%d", time.Now().UnixNano())
	t.Cleanup(func() { removeImages(t, dc, repo) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt := newRuntime(t, nil, docker.WithImageRepo(repo))
	spec := conformance.ServiceSpec("svc-df", runtime.Artifact{Dockerfile: dir})
	in, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start from a Dockerfile context: %v", err)
	}
	if code, err := status(ctx, in.HostAddr(), "/healthz", 2*time.Second); err != nil || code != http.StatusOK {
		t.Errorf("GET /healthz: %d, %v", code, err)
	}
	if img := imageOf(t, ctx, dc, in); img == "" {
		t.Errorf("no image")
	}
}

// A spec's Entrypoint replaces the image's (its Args follow it) and its User replaces the
// image's USER, as compose's entrypoint and user do.
func TestEntrypointAndUserReplaceTheImages(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	spec := conformance.ServiceSpec("svc-ep", artifact)
	spec.Entrypoint = []string{"/app", "from-entrypoint"}
	spec.Args = []string{"from-args"}
	spec.User = "4242:4242"
	in, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	code, body, err := fetch(ctx, in.HostAddr(), "/info", 5*time.Second)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /info: %d %s, %v", code, body, err)
	}
	var info struct {
		Args []string `json:"args"`
		UID  int      `json:"uid"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("decode /info %s: %v", body, err)
	}
	if got := strings.Join(info.Args, " "); got != "from-entrypoint from-args" {
		t.Errorf("the program got arguments %q, want the entrypoint's then Args: from-entrypoint from-args", got)
	}
	if info.UID != 4242 {
		t.Errorf("the program runs as uid %d, want 4242 (Spec.User), not the image's 65534", info.UID)
	}
}

func TestFailedStartsSayWhyAndLeaveNothing(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)

	crash := conformance.ServiceSpec("svc-crash", artifact)
	crash.Env["HEALTH_DELAY"] = "not-a-duration" // testsvc exits at once, saying so
	_, err := rt.Start(ctx, crash)
	if err == nil {
		t.Fatal("start of a service that exits at once: no error")
	}
	if !strings.Contains(err.Error(), `HEALTH_DELAY "not-a-duration"`) {
		t.Errorf("error does not end with the container's last log lines: %v", err)
	}

	_, err = rt.Start(ctx, runtime.Spec{Name: "svc-img", Artifact: runtime.Artifact{Image: "faultline/no-such-image:1"}, Port: 8080})
	if err == nil || !strings.Contains(err.Error(), "faultline/no-such-image:1") || !strings.Contains(err.Error(), "docker build") {
		t.Errorf("start from an absent image: %v; want an error naming the image and how to build it", err)
	}

	left, err := rt.Leftovers(ctx)
	if err != nil {
		t.Fatalf("leftovers: %v", err)
	}
	if len(left) != 2 || !strings.HasPrefix(left[0], "network ") || !strings.HasPrefix(left[1], "network ") {
		t.Errorf("after failed starts the run holds %v, want only its two networks", left)
	}

	// The name of a failed start is free again.
	if _, err := rt.Start(ctx, conformance.ServiceSpec("svc-crash", artifact)); err != nil {
		t.Errorf("start under the name of a failed start: %v", err)
	}
	if _, err := rt.Start(ctx, conformance.ServiceSpec("svc-crash", artifact)); err == nil {
		t.Errorf("a second instance with the same name started")
	}

	rt2, err := docker.New(ctx, docker.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	defer rt2.Close(context.Background())
	if _, err := rt2.StartProxyHost(ctx, 1); err == nil || !strings.Contains(err.Error(), "WithProxyBinary") ||
		!strings.Contains(err.Error(), "go build ./cmd/faultline-toxiproxy") {
		t.Errorf("proxy host without a proxy binary: %v; want an error naming WithProxyBinary and the build", err)
	}
}

func TestCloseIsIdempotentAndEndsTheRun(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	if _, err := rt.Start(ctx, conformance.ServiceSpec("svc-1", artifact)); err != nil {
		t.Fatalf("start: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := rt.Close(ctx); err != nil {
			t.Fatalf("close #%d: %v", i+1, err)
		}
	}
	if left, err := rt.Leftovers(ctx); err != nil || len(left) > 0 {
		t.Errorf("after close: leftovers %v, %v", left, err)
	}
	if _, err := rt.Start(ctx, conformance.ServiceSpec("svc-2", artifact)); err == nil {
		t.Errorf("start after close: no error")
	}
}

// status does one GET on a fresh connection and returns its status.
func status(ctx context.Context, addr, path string, timeout time.Duration) (int, error) {
	code, _, err := fetch(ctx, addr, path, timeout)
	return code, err
}

// fetch does one GET on a fresh connection and returns its status and body.
func fetch(ctx context.Context, addr, path string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a buffer that a logger and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestEveryDeclaredPortIsPublished: Docker publishes the main port and each named port,
// each on loopback, and each answers there.
func TestEveryDeclaredPortIsPublished(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	spec := conformance.ServiceSpec("svc-1", artifact)
	spec.Ports = []runtime.NamedPort{{Name: "peer", Port: 9001}, {Name: "admin", Port: 9002}}
	spec.Env["LISTEN_MORE"] = runtime.ListenPlaceholder("peer") + "," + runtime.ListenPlaceholder("admin")
	in, err := rt.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	res, err := dc.ContainerInspect(ctx, in.(*docker.Instance).ContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	host, _, _ := net.SplitHostPort(in.HostAddr())
	for _, want := range []int{8080, 9001, 9002} {
		var bound []string
		for port, bs := range res.Container.NetworkSettings.Ports {
			if int(port.Num()) == want {
				for _, b := range bs {
					bound = append(bound, net.JoinHostPort(b.HostIP.String(), b.HostPort))
				}
			}
		}
		if len(bound) == 0 {
			t.Errorf("port %d is not published (%v)", want, res.Container.NetworkSettings.Ports)
			continue
		}
		for _, b := range bound {
			if !strings.HasPrefix(b, "127.0.0.1:") {
				t.Errorf("port %d is published on %s, want loopback only", want, b)
			}
		}
		_, hp, _ := net.SplitHostPort(bound[0])
		if code, err := status(ctx, net.JoinHostPort(host, hp), "/healthz", 2*time.Second); err != nil || code != http.StatusOK {
			t.Errorf("port %d at its published %s: %d, %v", want, hp, code, err)
		}
	}
}

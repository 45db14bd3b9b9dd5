package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// closeWait bounds how long Close waits for killed children to be reaped. It does not
// depend on Close's context, which is often already cancelled in a test's cleanup.
const closeWait = 10 * time.Second

// Option customises a Runtime made by New.
type Option func(*Runtime)

// WithRunID names the run; the id shows in logs and in the default run directory's
// name. The default is a random short id.
func WithRunID(id string) Option { return func(rt *Runtime) { rt.runID = id } }

// WithDir sets the root under which each instance gets <dir>/<name>/ for its data
// directory and log. The caller owns dir: Close leaves it in place, so logs and data
// can be read after the run. The default is a new temporary directory that Close removes
// (or, should the run be killed before its Close, the next run's Reap).
func WithDir(dir string) Option { return func(rt *Runtime) { rt.dir = dir } }

// WithLogger sets where the runtime logs what it starts and what exits (default
// slog.Default()). The run id is added to every record.
func WithLogger(l *slog.Logger) Option { return func(rt *Runtime) { rt.log = l } }

// Runtime runs the instances of one run as child processes on loopback. Make it with
// New; it is safe for concurrent use.
type Runtime struct {
	runID   string
	dir     string
	ownDir  bool
	log     *slog.Logger
	spawner *spawner

	mu        sync.Mutex
	closed    bool
	closeDone chan struct{} // closed once the first Close has done its work
	instances []*Instance
	names     map[string]bool
	ports     map[int]bool
	groups    []group // every process group started, for Leftovers
	proxy     *proxyserver.Server
	proxyHost *ProxyHost
}

// group is a process group the runtime started.
type group struct {
	pgid     int
	instance string
}

// New makes a local runtime. Nothing runs until Start.
func New(opts ...Option) (*Runtime, error) {
	rt := &Runtime{names: map[string]bool{}, ports: map[int]bool{}}
	for _, o := range opts {
		o(rt)
	}
	if rt.runID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("new local runtime: run id: %w", err)
		}
		rt.runID = hex.EncodeToString(b[:])
	}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	rt.log = rt.log.With("runtime", "local", "run", rt.runID)
	if rt.dir == "" {
		// A run killed with SIGKILL leaves its directory: the next run removes it.
		if n, err := Reap(rt.log); err != nil {
			rt.log.Warn("reap the directories of dead local runs", "err", err)
		} else if n > 0 {
			rt.log.Info("removed the directories of dead local runs", "removed", n)
		}
		dir, err := os.MkdirTemp("", dirPrefix+rt.runID+"-")
		if err != nil {
			return nil, fmt.Errorf("new local runtime %s: run dir: %w", rt.runID, err)
		}
		if err := writeOwner(dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("new local runtime %s: %w", rt.runID, err)
		}
		rt.dir, rt.ownDir = dir, true
	} else {
		dir, err := filepath.Abs(rt.dir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("new local runtime %s: run dir %s: %w", rt.runID, rt.dir, err)
		}
		rt.dir = dir
	}
	rt.spawner = newSpawner()
	return rt, nil
}

// Name is "local".
func (rt *Runtime) Name() string { return "local" }

// RunID is the run's id.
func (rt *Runtime) RunID() string { return rt.runID }

// Dir is the root of the instances' data directories and logs.
func (rt *Runtime) Dir() string { return rt.dir }

// Start starts spec's binary as a child process on a free loopback port and waits until
// it is ready. On error nothing of it is left running (its log stays in its directory).
func (rt *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	in, err := rt.start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return in, nil
}

func (rt *Runtime) start(ctx context.Context, spec runtime.Spec) (*Instance, error) {
	bin, err := checkSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	in, err := rt.reserve(spec, bin)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	if err := in.launch(ctx); err != nil {
		rt.release(in)
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	return in, nil
}

// checkSpec says what is wrong with spec for this backend, naming the field and the fix,
// and returns the binary's absolute path.
// Supports tells, before anything starts, whether the local runtime can run spec at all:
// it refuses an Entrypoint, which only an image has, a User it cannot switch to (any
// other than its own unless it runs as root), and an unknown StopSignal.
// It implements runtime.SpecChecker; a nil *Runtime answers too.
func (r *Runtime) Supports(spec runtime.Spec) error {
	switch _, known := runtime.StopSignals[spec.StopSignal]; {
	case len(spec.Entrypoint) > 0:
		return fmt.Errorf("Spec.Entrypoint %q: the local runtime runs the artifact's binary itself and has no entrypoint to replace: put the program in the source's binary and its arguments in Args, or run on docker", spec.Entrypoint)
	case spec.StopSignal != "" && !known:
		return fmt.Errorf("Spec.StopSignal %q: use one of %s", spec.StopSignal, runtime.StopSignalNames())
	}
	_, err := lookupAccount(spec.User)
	return err
}

func checkSpec(spec runtime.Spec) (string, error) {
	if spec.Name == "" || spec.Name != filepath.Base(spec.Name) || spec.Name == "." || spec.Name == ".." {
		return "", fmt.Errorf("Spec.Name %q: want a non-empty name without path separators (\"accounts-1\")", spec.Name)
	}
	if err := (*Runtime)(nil).Supports(spec); err != nil {
		return "", err
	}
	if err := spec.CheckPorts(); err != nil {
		return "", err
	}
	a := spec.Artifact
	if a.Image != "" || a.Dockerfile != "" {
		field, val := "Image", a.Image
		if val == "" {
			field, val = "Dockerfile", a.Dockerfile
		}
		if a.Binary != "" {
			return "", fmt.Errorf("Spec.Artifact: both Binary and %s are set: set exactly one", field)
		}
		return "", fmt.Errorf("Spec.Artifact.%s %q: the local runtime runs binaries only: set Spec.Artifact.Binary to a static executable, or use FAULTLINE_RUNTIME=docker", field, val)
	}
	if a.Binary == "" {
		return "", errors.New("Spec.Artifact.Binary is empty: set it to the path of an executable (or use FAULTLINE_RUNTIME=docker for an image)")
	}
	bin := a.Binary
	if !strings.ContainsRune(bin, filepath.Separator) {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("Spec.Artifact.Binary %q: not found in PATH: give its path, or build it first: %w", bin, err)
		}
		bin = p
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", fmt.Errorf("Spec.Artifact.Binary %q: %w", a.Binary, err)
	}
	fi, err := os.Stat(bin)
	switch {
	case err != nil:
		return "", fmt.Errorf("Spec.Artifact.Binary %q: build it first: %w", a.Binary, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("Spec.Artifact.Binary %q: not an executable file (mode %s)", a.Binary, fi.Mode())
	}
	return bin, nil
}

// reserve claims spec's name and a port, and makes the instance's directories.
func (rt *Runtime) reserve(spec runtime.Spec, bin string) (*Instance, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return nil, errors.New("runtime closed")
	}
	if rt.names[spec.Name] {
		return nil, fmt.Errorf("Spec.Name %q: an instance of that name already exists in run %s", spec.Name, rt.runID)
	}
	port, err := rt.freePort()
	if err != nil {
		return nil, err
	}
	rt.ports[port] = true
	// Each named port gets a free port of its own, kept across restarts like the main one.
	named := make(map[string]int, len(spec.Ports))
	for _, p := range spec.Ports {
		n, err := rt.freePort()
		if err == nil {
			rt.ports[n] = true
			named[p.Name] = n
			continue
		}
		for _, taken := range append(slices.Collect(maps.Values(named)), port) {
			delete(rt.ports, taken)
			releasePort(taken)
		}
		return nil, fmt.Errorf("port %s: %w", p.Name, err)
	}
	dir := filepath.Join(rt.dir, spec.Name)
	dataDir := filepath.Join(dir, "data")
	acct, err := lookupAccount(spec.User)
	if err == nil {
		if err = os.MkdirAll(dataDir, 0o755); err == nil {
			err = acct.own(rt.dir, dir, dataDir)
		}
		if err != nil {
			err = fmt.Errorf("data dir: %w", err)
		}
	}
	if err != nil {
		for _, taken := range append(slices.Collect(maps.Values(named)), port) {
			delete(rt.ports, taken)
			releasePort(taken)
		}
		return nil, err
	}
	rt.names[spec.Name] = true
	in := &Instance{
		rt:      rt,
		spec:    spec,
		bin:     bin,
		port:    port,
		named:   named,
		addr:    net.JoinHostPort("127.0.0.1", fmt.Sprint(port)),
		dataDir: dataDir,
		account: acct,
		logPath: filepath.Join(dir, "output.log"),
		log:     rt.log.With("instance", spec.Name),
	}
	rt.instances = append(rt.instances, in)
	return in, nil
}

// release forgets an instance whose first start failed, so its name can be used again.
func (rt *Runtime) release(in *Instance) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	delete(rt.names, in.spec.Name)
	for _, port := range append(slices.Collect(maps.Values(in.named)), in.port) {
		delete(rt.ports, port)
		releasePort(port)
	}
	for i, x := range rt.instances {
		if x == in {
			rt.instances = append(rt.instances[:i], rt.instances[i+1:]...)
			break
		}
	}
}

// freePort picks a free loopback port that no instance of the run holds, outside the
// kernel's ephemeral range where it can: an instance keeps its port across restarts, and
// while it is down the kernel would otherwise hand that port to an outgoing connection
// of the load (or a proxy), and the restart would fail with "address in use".
func (rt *Runtime) freePort() (int, error) {
	lo, hi := portRange()
	for range 50 {
		port := 0
		if lo < hi {
			port = lo + mrand.IntN(hi-lo)
			if rt.ports[port] {
				continue
			}
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port != 0 {
				continue // taken: try another
			}
			return 0, fmt.Errorf("free port: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if rt.ports[port] {
			continue
		}
		// Free now, but another run on this machine may hold it between its own binds
		// (see reservePort); a port the kernel picked (lo == hi) is not reserved.
		if lo < hi && !reservePort(port) {
			continue
		}
		return port, nil
	}
	return 0, errors.New("free port: no free loopback port after 50 tries")
}

// portRange is where freePort draws ports: from 15000 up to the start of the kernel's
// ephemeral range (Linux), or nothing (lo == hi) to let the kernel pick.
func portRange() (lo, hi int) {
	const floor = 15000
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	ephemeralLow, err := strconv.Atoi(f[0])
	if err != nil || ephemeralLow-floor < 1000 {
		return 0, 0
	}
	return floor, ephemeralLow
}

// started records a new process group, for Leftovers.
func (rt *Runtime) started(pgid int, name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.groups = append(rt.groups, group{pgid: pgid, instance: name})
}

// StartProxyHost starts the run's Toxiproxy server inside the harness process, its API
// on a free loopback port. slots is only an upper bound here: every proxy listens on a
// port Toxiproxy picks. A second call returns the same host.
func (rt *Runtime) StartProxyHost(ctx context.Context, slots int) (runtime.ProxyHost, error) {
	if slots < 0 {
		return nil, fmt.Errorf("start proxy host: slots %d: want >= 0", slots)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return nil, errors.New("start proxy host: runtime closed")
	}
	if rt.proxyHost != nil {
		return rt.proxyHost, nil
	}
	srv, err := proxyserver.Start(ctx, "127.0.0.1:0", rt.log.With("component", "toxiproxy"))
	if err != nil {
		return nil, fmt.Errorf("start proxy host: %w", err)
	}
	rt.proxy = srv
	rt.proxyHost = &ProxyHost{api: srv.Addr(), rt: rt}
	rt.log.Info("proxy host started", "api", srv.Addr())
	return rt.proxyHost, nil
}

// Processes returns the pids of the instances' processes that are alive now, in start
// order. Tests use it to prove that nothing leaks.
func (rt *Runtime) Processes() []int {
	rt.mu.Lock()
	insts := append([]*Instance(nil), rt.instances...)
	rt.mu.Unlock()
	var pids []int
	for _, in := range insts {
		if p := in.current(); p != nil && p.alive() {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// Leftovers lists what the run still holds outside the harness's memory: live process
// groups it started, the proxy server, the run directory it created. After Close it
// is empty; the conformance suite checks that.
func (rt *Runtime) Leftovers(ctx context.Context) ([]string, error) {
	rt.mu.Lock()
	groups := append([]group(nil), rt.groups...)
	proxy, closed := rt.proxy, rt.closed
	rt.mu.Unlock()
	var left []string
	for _, g := range groups {
		if err := syscall.Kill(-g.pgid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			left = append(left, fmt.Sprintf("process group %d of %s", g.pgid, g.instance))
		}
	}
	if proxy != nil && !closed {
		left = append(left, "toxiproxy server at "+proxy.Addr())
	}
	if rt.ownDir {
		if _, err := os.Stat(rt.dir); err == nil {
			left = append(left, "run directory "+rt.dir)
		}
	}
	return left, nil
}

// Close kills every instance's process group, waits until each is reaped, stops the
// proxy server and removes the run directory if New made it. It does its work even if
// ctx is already cancelled (test cleanups run after the test's context ends), waiting at
// most a few seconds for killed processes. It is safe to call more than once, and from
// several goroutines at once: every call returns only once the first has finished, so
// that a caller that exits the process next (Ginkgo after its cleanup, while the
// harness's signal handler is closing the same run) cannot cut the work short.
func (rt *Runtime) Close(ctx context.Context) error {
	rt.mu.Lock()
	if rt.closed {
		done := rt.closeDone
		rt.mu.Unlock()
		<-done
		return nil
	}
	rt.closed = true
	rt.closeDone = make(chan struct{})
	defer close(rt.closeDone)
	insts := append([]*Instance(nil), rt.instances...)
	proxy := rt.proxy
	rt.mu.Unlock()

	var errs []error
	var procs []*proc
	for _, in := range insts {
		if p := in.remove(); p != nil {
			procs = append(procs, p)
		}
	}
	deadline := time.NewTimer(closeWait)
	defer deadline.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			errs = append(errs, fmt.Errorf("close run %s: process %d still not reaped after %s", rt.runID, p.pid, closeWait))
		}
	}
	if proxy != nil {
		if err := proxy.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close run %s: proxy server: %w", rt.runID, err))
		}
	}
	rt.spawner.close()
	rt.mu.Lock()
	for port := range rt.ports {
		releasePort(port)
	}
	rt.mu.Unlock()
	if rt.ownDir {
		if err := os.RemoveAll(rt.dir); err != nil {
			errs = append(errs, fmt.Errorf("close run %s: remove %s: %w", rt.runID, rt.dir, err))
		}
	}
	rt.log.Info("run closed", "instances", len(insts))
	return errors.Join(errs...)
}

// ProxyHost is the embedded Toxiproxy server of a local run: every address is on
// loopback and the same for the harness and the instances.
type ProxyHost struct {
	api string
	rt  *Runtime
}

var _ runtime.ProxyHost = (*ProxyHost)(nil)

// APIAddr is the Toxiproxy API's host:port.
func (h *ProxyHost) APIAddr() string { return h.api }

// ListenAddr is a free loopback port of the run's own for every slot, drawn like an
// instance's outside the kernel's ephemeral range: Toxiproxy listens on it again after
// every change of upstream and every disable and enable, and a port of the ephemeral
// range can be handed to an outgoing connection in between ("address already in use").
// Where no such port can be found it is "127.0.0.1:0", and Toxiproxy picks one; the
// proxy's Listen field says which.
func (h *ProxyHost) ListenAddr(slot int) string {
	if h.rt == nil {
		return "127.0.0.1:0"
	}
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	port, err := h.rt.freePort()
	if err != nil {
		return "127.0.0.1:0"
	}
	h.rt.ports[port] = true
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// HostAddr is listen itself: the harness and the proxies share the host.
func (h *ProxyHost) HostAddr(ctx context.Context, listen string) (string, error) {
	return listen, nil
}

// NetAddr is listen itself: the instances and the proxies share the host.
func (h *ProxyHost) NetAddr(listen string) string { return listen }

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness/runtime"
)

var (
	_ runtime.Instance  = (*Instance)(nil)
	_ runtime.PortAddrs = (*Instance)(nil)
	_ runtime.Execer    = (*Instance)(nil)
)

// defaultStartTimeout bounds the wait for readiness when the Spec sets none.
const defaultStartTimeout = 30 * time.Second

// Instance is one child process of a local run, and its successors after restarts: the
// port, data directory and log stay the same across them.
type Instance struct {
	rt      *Runtime
	spec    runtime.Spec
	bin     string
	port    int
	named   map[string]int // Spec.Ports by name → the port drawn for each
	addr    string
	dataDir string
	// account is who its processes run as (Spec.User); nil: the harness's own user.
	account *account
	logPath string
	log     *slog.Logger

	op sync.Mutex // one lifecycle operation at a time

	mu      sync.Mutex // guards the fields below; never held while waiting
	p       *proc
	paused  bool
	removed bool
}

// proc is one process of an instance. Exactly one goroutine (reap) waits for it.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process is reaped
	err  error         // cmd.Wait's result; read only after done
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process's whole group; a group already gone is no error.
func (p *proc) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.pid, err)
	}
	return nil
}

// Name is the Spec's name.
func (in *Instance) Name() string { return in.spec.Name }

// Spec is the spec the instance was started from.
func (in *Instance) Spec() runtime.Spec { return in.spec }

// HostAddr is 127.0.0.1:<port>, the same for the instance's whole life.
func (in *Instance) HostAddr() string { return in.addr }

// NetAddr is HostAddr: on loopback, the harness, the proxies and the other instances
// reach the instance at the same address.
func (in *Instance) NetAddr() string { return in.addr }

// PortNetAddr is 127.0.0.1:<port> of the port of Spec.Ports called name: the port
// drawn for it, the same for the instance's whole life.
func (in *Instance) PortNetAddr(name string) (string, error) {
	port, ok := in.named[name]
	if !ok {
		return "", in.spec.UnknownPort(name)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// DataDir is the instance's data directory ({{datadir}}), kept across restarts.
func (in *Instance) DataDir() string { return in.dataDir }

// Pid is the pid of the instance's current process, 0 if it has none running.
func (in *Instance) Pid() int {
	if p := in.current(); p != nil && p.alive() {
		return p.pid
	}
	return 0
}

func (in *Instance) current() *proc {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.p
}

// running returns the current process if it is alive.
func (in *Instance) running() (*proc, bool) {
	p := in.current()
	return p, p != nil && p.alive()
}

// launch starts a new process for the instance and waits until it is ready; on error it
// leaves no process behind.
func (in *Instance) launch(ctx context.Context) error {
	cmd, err := in.command()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	err = in.rt.spawner.start(cmd)
	logFile.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("exec %s: %w", in.bin, err)
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	in.rt.started(p.pid, in.spec.Name)
	go in.reap(p)

	in.mu.Lock()
	removed := in.removed
	if !removed {
		in.p, in.paused = p, false
	}
	in.mu.Unlock()
	if removed { // Close ran while we were starting
		p.signal(syscall.SIGKILL)
		<-p.done
		return errors.New("runtime closed")
	}
	in.log.Info("instance started", "pid", p.pid, "addr", in.addr, "binary", in.bin)

	if err := in.waitReady(ctx, p); err != nil {
		p.signal(syscall.SIGKILL)
		<-p.done
		return err
	}
	return nil
}

// Exec runs cmd on the host, as the instance's program runs: placeholders replaced, in
// its data directory, with its environment (and PATH and HOME) only.
func (in *Instance) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	if len(cmd) == 0 {
		return 0, nil, errors.New("exec: the command is empty: give the program and its arguments")
	}
	proto, err := in.command()
	if err != nil {
		return 0, nil, err
	}
	r := in.replacer()
	args := make([]string, len(cmd))
	for i, a := range cmd {
		args[i] = r.Replace(a)
	}
	c := exec.CommandContext(ctx, args[0], args[1:]...)
	c.Env, c.Dir = proto.Env, proto.Dir
	out, err := c.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), out, nil
	case err != nil:
		return 0, out, fmt.Errorf("exec %s: %w", args[0], err)
	}
	return 0, out, nil
}

// command builds the exec.Cmd of the instance's next process, placeholders replaced and
// with only the Spec's environment plus PATH and HOME.
func (in *Instance) command() (*exec.Cmd, error) {
	r := in.replacer()
	args := make([]string, len(in.spec.Args))
	for i, a := range in.spec.Args {
		args[i] = r.Replace(a)
	}
	env := make([]string, 0, len(in.spec.Env)+2)
	for _, k := range []string{"PATH", "HOME"} {
		if _, set := in.spec.Env[k]; !set {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	for k, v := range in.spec.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("Spec.Env: bad variable name %q", k)
		}
		env = append(env, k+"="+r.Replace(v))
	}
	slices.Sort(env)
	cmd := exec.Command(in.bin, args...)
	cmd.Env = env
	cmd.Dir = in.dataDir
	cmd.SysProcAttr = sysProcAttr()
	cmd.SysProcAttr.Credential = in.account.credential()
	return cmd, nil
}

// replacer fills in the placeholders of the instance's spec.
func (in *Instance) replacer() *strings.Replacer {
	pairs := []string{
		runtime.PlaceholderListen, in.addr,
		runtime.PlaceholderPort, strconv.Itoa(in.port),
		runtime.PlaceholderNetAddr, in.addr,
		runtime.PlaceholderDataDir, in.dataDir,
	}
	for name, port := range in.named {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		pairs = append(pairs, runtime.ListenPlaceholder(name), addr, runtime.PortPlaceholder(name), strconv.Itoa(port),
			runtime.NetAddrPlaceholder(name), addr)
	}
	return strings.NewReplacer(pairs...)
}

// reap is the one goroutine that waits for p. Once the leader is gone it kills whatever
// is left of its group, as a container's end does, and marks p done.
func (in *Instance) reap(p *proc) {
	err := p.cmd.Wait()
	p.signal(syscall.SIGKILL)
	p.err = err
	in.log.Info("instance exited", "pid", p.pid, "status", exitStatus(p))
	close(p.done)
}

// exitStatus says how a reaped process ended.
func exitStatus(p *proc) string {
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	if p.err != nil {
		return p.err.Error()
	}
	return "exited"
}

// waitReady polls the instance until it answers: HTTP 200 on Spec.Health, or a TCP
// accept when Health is empty. It fails as soon as the process exits, with its log tail.
func (in *Instance) waitReady(ctx context.Context, p *proc) error {
	timeout := in.spec.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	var lastErr error
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 250*time.Millisecond) {
		if !p.alive() {
			return fmt.Errorf("exited before it was ready (%s); last output:\n%s", exitStatus(p), in.logTail())
		}
		if lastErr = in.probe(ctx, client); lastErr == nil {
			return nil
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			if !p.alive() {
				continue
			}
			return fmt.Errorf("not ready after %s (last check: %v): %w; last output:\n%s", timeout, lastErr, ctx.Err(), in.logTail())
		case <-time.After(delay):
		}
	}
}

// probe checks readiness once.
func (in *Instance) probe(ctx context.Context, client *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if in.spec.Health == "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", in.addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	path := in.spec.Health
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.addr+path, nil)
	if err != nil {
		return fmt.Errorf("Spec.Health %q: %w", in.spec.Health, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

// logTail returns the last lines of the instance's log, for error messages.
func (in *Instance) logTail() string {
	const maxBytes, maxLines = 4 << 10, 20
	f, err := os.Open(in.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		f.Seek(fi.Size()-maxBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 1 && len(lines[0]) == 0 {
		return "(empty)"
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Kill sends SIGKILL to the instance's process group and every process below it (see
// killTree) and returns once they are gone. An instance that is not running is left as
// it is.
func (in *Instance) Kill(ctx context.Context) error {
	in.op.Lock()
	defer in.op.Unlock()
	p, ok := in.running()
	if !ok {
		return nil
	}
	desc := p.killTree()
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("kill %s: process %d not reaped yet: %w", in.spec.Name, p.pid, ctx.Err())
	}
	if err := waitGone(ctx, desc); err != nil {
		return fmt.Errorf("kill %s: %w", in.spec.Name, err)
	}
	return nil
}

// Stop sends SIGTERM (or the spec's StopSignal) to the instance's process group (and
// SIGCONT, should it be paused), waits up to timeout for it to exit, then kills it. If ctx ends first the
// instance is killed too. An instance that is not running is left as it is.
func (in *Instance) Stop(ctx context.Context, timeout time.Duration) error {
	in.op.Lock()
	defer in.op.Unlock()
	p, ok := in.running()
	if !ok {
		return nil
	}
	sig := syscall.SIGTERM
	if s, ok := runtime.StopSignals[in.spec.StopSignal]; ok {
		sig = s
	}
	if err := p.signal(sig); err != nil {
		return fmt.Errorf("stop %s: %w", in.spec.Name, err)
	}
	in.mu.Lock()
	paused := in.paused
	in.paused = false
	in.mu.Unlock()
	if paused {
		if err := p.signal(syscall.SIGCONT); err != nil {
			return fmt.Errorf("stop %s: %w", in.spec.Name, err)
		}
	}
	grace := time.NewTimer(timeout)
	defer grace.Stop()
	var ctxErr error
	select {
	case <-p.done:
		return nil
	case <-grace.C:
		in.log.Warn("instance ignored its stop signal; killing it", "signal", sig, "pid", p.pid, "timeout", timeout)
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	desc := p.killTree()
	<-p.done // SIGKILL cannot be caught: this is quick
	_ = waitGone(context.WithoutCancel(ctx), desc)
	if ctxErr != nil {
		return fmt.Errorf("stop %s: killed before it exited: %w", in.spec.Name, ctxErr)
	}
	return nil
}

// Pause sends SIGSTOP to the instance's process group and returns once it is stopped.
func (in *Instance) Pause(ctx context.Context) error {
	in.op.Lock()
	defer in.op.Unlock()
	p, ok := in.running()
	if !ok {
		return fmt.Errorf("pause %s: %w", in.spec.Name, runtime.ErrNotRunning)
	}
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: %w", in.spec.Name, err)
	}
	in.mu.Lock()
	in.paused = true
	in.mu.Unlock()
	if err := waitStopped(ctx, p.pid); err != nil {
		return fmt.Errorf("pause %s: %w", in.spec.Name, err)
	}
	return nil
}

// Resume sends SIGCONT to the instance's process group.
func (in *Instance) Resume(ctx context.Context) error {
	in.op.Lock()
	defer in.op.Unlock()
	p, ok := in.running()
	if !ok {
		return fmt.Errorf("resume %s: %w", in.spec.Name, runtime.ErrNotRunning)
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume %s: %w", in.spec.Name, err)
	}
	in.mu.Lock()
	in.paused = false
	in.mu.Unlock()
	return nil
}

// Start starts the instance again, with the same spec, port and data directory, and
// waits until it is ready. It fails if the instance is still running (paused counts).
func (in *Instance) Start(ctx context.Context) error {
	in.op.Lock()
	defer in.op.Unlock()
	in.mu.Lock()
	removed := in.removed
	in.mu.Unlock()
	if removed {
		return fmt.Errorf("start %s: runtime closed", in.spec.Name)
	}
	if p, ok := in.running(); ok {
		return fmt.Errorf("start %s: still running as pid %d: kill or stop it first", in.spec.Name, p.pid)
	}
	if err := in.launch(ctx); err != nil {
		return fmt.Errorf("start %s: %w", in.spec.Name, err)
	}
	return nil
}

// Disconnect is not supported: local instances share the host's loopback. Cut an
// instance off with a proxy fault instead.
func (in *Instance) Disconnect(ctx context.Context) error {
	return fmt.Errorf("disconnect %s: the local runtime has no network to cut (use a proxy fault): %w", in.spec.Name, runtime.ErrUnsupported)
}

// Reconnect is not supported, like Disconnect.
func (in *Instance) Reconnect(ctx context.Context) error {
	return fmt.Errorf("reconnect %s: the local runtime has no network to cut (use a proxy fault): %w", in.spec.Name, runtime.ErrUnsupported)
}

// State reports running, paused (since Pause, until Resume, Stop or an exit), exited
// (killed, stopped or crashed: seen as soon as the process is reaped), or removed after
// the run's Close.
func (in *Instance) State(ctx context.Context) (runtime.State, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.removed:
		return runtime.StateRemoved, nil
	case in.p == nil || !in.p.alive():
		return runtime.StateExited, nil
	case in.paused:
		return runtime.StatePaused, nil
	default:
		return runtime.StateRunning, nil
	}
}

// Logs returns everything the instance's processes wrote to stdout and stderr, across
// restarts. The log lives in the run directory: read it before Close if New made that.
func (in *Instance) Logs(ctx context.Context) ([]byte, error) {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", in.spec.Name, err)
	}
	return b, nil
}

// remove marks the instance removed and sends SIGKILL to its process group; it returns
// the process to wait for, if one was alive.
func (in *Instance) remove() *proc {
	in.mu.Lock()
	in.removed = true
	p := in.p
	in.mu.Unlock()
	if p == nil || !p.alive() {
		return nil
	}
	p.killTree()
	return p
}

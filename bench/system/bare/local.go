package bare

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
)

// StartLocal starts plan as child processes on loopback with plain os/exec: the same
// binaries (built or found by b) and environment the harness's local runtime would give
// them, each on a port of its own, its data in a temporary directory.
func StartLocal(ctx context.Context, plan Plan, b *build.Builder) (*System, error) {
	dir, err := os.MkdirTemp("", "faultline-bare-")
	if err != nil {
		return nil, fmt.Errorf("bare local: %w", err)
	}
	be := &localBackend{dir: dir, builder: b, ports: map[string]int{}, spawn: newSpawner()}
	for _, p := range plan.Procs {
		port, err := freePort(be.ports)
		if err != nil {
			_ = be.close(ctx)
			return nil, fmt.Errorf("bare local: %w", err)
		}
		be.ports[p.Name] = port
	}
	return run(ctx, plan, be)
}

type localBackend struct {
	dir     string
	builder *build.Builder
	ports   map[string]int // fixed before any start; read-only after

	spawn *spawner

	mu    sync.Mutex
	procs []*exec.Cmd
}

func (be *localBackend) addr(name string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(be.ports[name]))
}

func (be *localBackend) start(ctx context.Context, p Proc) (string, error) {
	bin, err := be.builder.Package(ctx, p.Package)
	if err != nil {
		return "", err
	}
	data := filepath.Join(be.dir, p.Name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", err
	}
	addr := be.addr(p.Name)
	own := strings.NewReplacer(
		runtime.PlaceholderListen, addr,
		runtime.PlaceholderPort, strconv.Itoa(be.ports[p.Name]),
		runtime.PlaceholderNetAddr, addr,
		runtime.PlaceholderDataDir, data,
	)
	args := make([]string, len(p.Args))
	for i, a := range p.Args {
		args[i] = resolve(a, own, be.addr)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range p.Env {
		env = append(env, k+"="+resolve(v, own, be.addr))
	}
	slices.Sort(env)
	log, err := os.Create(filepath.Join(be.dir, p.Name+".log"))
	if err != nil {
		return "", err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, data, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := be.spawn.start(cmd); err != nil {
		return "", fmt.Errorf("exec %s: %w", bin, err)
	}
	be.mu.Lock()
	be.procs = append(be.procs, cmd)
	be.mu.Unlock()
	return addr, nil
}

// close kills every process group, reaps each process and removes the directory.
func (be *localBackend) close(ctx context.Context) error {
	be.mu.Lock()
	procs := be.procs
	be.procs = nil
	be.mu.Unlock()
	var errs []error
	for _, c := range procs {
		if err := syscall.Kill(-c.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", c.Process.Pid, err))
		}
	}
	for _, c := range procs {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			errs = append(errs, fmt.Errorf("process %d not reaped after 10s", c.Process.Pid))
		}
	}
	be.spawn.close()
	if err := os.RemoveAll(be.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// freePort picks a free loopback port below the kernel's ephemeral range, as the
// harness's local runtime does: a port from that range can be taken by an outgoing
// connection between the check and the process's bind.
func freePort(taken map[string]int) (int, error) {
	lo, hi := 15000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n-lo >= 1000 {
				hi = n
			}
		}
	}
	used := map[int]bool{}
	for _, p := range taken {
		used[p] = true
	}
	for range 100 {
		port := lo + mrand.IntN(hi-lo)
		if used[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port, nil
	}
	return 0, errors.New("free port: no free loopback port after 100 tries")
}

// spawner starts every process from one goroutine locked to its OS thread, which lives
// until close: Linux sends Pdeathsig when the thread that forked a child ends, so the
// children die with the benchmark even when it is killed, and not before.
type spawner struct {
	reqs chan *exec.Cmd
	errs chan error
	quit chan struct{}
	once sync.Once
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan *exec.Cmd), errs: make(chan error), quit: make(chan struct{})}
	go func() {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		for {
			select {
			case cmd := <-s.reqs:
				s.errs <- cmd.Start()
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

var errSpawnerClosed = errors.New("spawner closed")

func (s *spawner) start(cmd *exec.Cmd) error {
	select {
	case s.reqs <- cmd:
		return <-s.errs
	case <-s.quit:
		return errSpawnerClosed
	}
}

func (s *spawner) close() { s.once.Do(func() { close(s.quit) }) }

package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long Start and Restart wait for etcd to answer; generous for a
// busy two-core machine.
const startTimeout = 60 * time.Second

// Server is one etcd server run by a test.
type Server struct {
	tb         testing.TB
	bin        string
	dir        string
	clientPort int
	peerPort   int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
	log  string
}

// Start runs an etcd server on free loopback ports with its data in tb.TempDir(), waits
// until it answers, and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: Binary(tb), dir: tb.TempDir()}
	tb.Cleanup(s.stop)
	var err error
	for attempt := 1; attempt <= 3; attempt++ { // a free port can be taken before etcd binds it
		if s.clientPort, s.peerPort, err = freePorts(); err != nil {
			tb.Fatalf("etcdtest: %v", err)
		}
		if err = s.start(); err == nil {
			return s
		}
		tb.Logf("etcdtest: start attempt %d: %v", attempt, err)
		s.stop()
	}
	tb.Fatalf("etcdtest: etcd did not start: %v", err)
	return nil
}

// Endpoint returns the client URL, e.g. http://127.0.0.1:40123.
func (s *Server) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", s.clientPort) }

// Addr returns the client address as host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.clientPort) }

// DataDir returns the server's data directory.
func (s *Server) DataDir() string { return filepath.Join(s.dir, "data") }

// Kill kills the server with SIGKILL and waits until it is gone.
func (s *Server) Kill() {
	s.tb.Helper()
	s.stop()
}

// Pause freezes the server with SIGSTOP, and returns once it is stopped: connections
// stay open and calls hang.
func (s *Server) Pause() {
	s.tb.Helper()
	pid := s.signal(syscall.SIGSTOP)
	deadline := time.Now().Add(10 * time.Second)
	for !stopped(pid) {
		if time.Now().After(deadline) {
			s.tb.Fatalf("etcdtest: etcd (pid %d) not stopped within 10 s of SIGSTOP", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Resume thaws a paused server with SIGCONT.
func (s *Server) Resume() { s.tb.Helper(); s.signal(syscall.SIGCONT) }

// Restart kills the server if it runs, then starts it again on the same data directory
// and ports, and waits until it answers.
func (s *Server) Restart() {
	s.tb.Helper()
	s.stop()
	deadline := time.Now().Add(startTimeout)
	var err error
	for time.Now().Before(deadline) { // the old ports may take a moment to free up
		if err = s.start(); err == nil {
			return
		}
		s.stop()
		time.Sleep(200 * time.Millisecond)
	}
	s.tb.Fatalf("etcdtest: restart: %v", err)
}

func (s *Server) signal(sig syscall.Signal) int {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("etcdtest: %v to a server that is not running", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("etcdtest: %v: %v", sig, err)
	}
	return s.cmd.Process.Pid
}

func (s *Server) start() error {
	const name = "etcdtest"
	client := s.Endpoint()
	peer := fmt.Sprintf("http://127.0.0.1:%d", s.peerPort)
	s.log = filepath.Join(s.dir, "etcd.log")
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(s.bin,
		"--name="+name,
		"--data-dir="+s.DataDir(),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster="+name+"="+peer,
		"--log-level=error",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return s.waitReady(done)
}

// waitReady polls etcd's /health until it says true.
func (s *Server) waitReady(done chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint()+"/health", nil)
		if resp, err := hc.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"true"`)) {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("etcd exited: %s", s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("etcd did not answer on %s within %s: %s", s.Endpoint(), startTimeout, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(no log)"
	}
	return strings.ReplaceAll(string(b), "\n", " | ")
}

// stop kills the current process, if any, and waits for it.
func (s *Server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// freePorts returns two distinct free loopback ports.
func freePorts() (int, int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

package netfault_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/proxyserver"
)

// hogEnv, set in a child process of the test binary, makes TestPortHogProcess hog the
// ports around the host:port it holds (see hogPorts) until its stdin closes.
const hogEnv = "NETFAULT_TEST_PORT_HOG"

// hogSpan is how many ports on each side of the link's the hog binds too: another
// process drawing ports from the same range.
const hogSpan = 2

// TestPortHogProcess is not a test: it is the body of the child process that
// startHog re-executes the test binary as.
func TestPortHogProcess(t *testing.T) {
	target := os.Getenv(hogEnv)
	if target == "" {
		t.Skip("the port hog runs only as startHog's child process")
	}
	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }()
	grabs, err := hogPorts(stop, target, hogSpan)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(strings.Trim(fmt.Sprint(grabs), "[]"))
	os.Exit(0)
}

// hogPorts binds target's port and its span neighbours on its host, each over and
// over, until stop closes: a bind that succeeds holds the port 1 to 6 ms, closes it
// and leaves that port alone for 20 ms, as a process that picks and releases ports
// does; a bind that fails (the port is someone's) is tried again at once, so that the
// moment a listener lets go of its port is caught. It returns the successful binds
// per port, target's at index span.
func hogPorts(stop <-chan struct{}, target string, span int) ([]int, error) {
	host, p, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("hog %s: %w", target, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("hog %s: %w", target, err)
	}
	grabs := make([]int, 2*span+1)
	var wg sync.WaitGroup
	for i := range grabs {
		wg.Go(func() { grabs[i] = hogPort(stop, net.JoinHostPort(host, strconv.Itoa(port-span+i))) })
	}
	wg.Wait()
	return grabs, nil
}

// hogPort is hogPorts for one address; it returns its successful binds.
func hogPort(stop <-chan struct{}, addr string) (grabs int) {
	for {
		select {
		case <-stop:
			return grabs
		default:
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		grabs++
		time.Sleep(time.Millisecond + rand.N(5*time.Millisecond))
		_ = ln.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// hog is a running port hog child process.
type hog struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	once  sync.Once
	grabs []int
	err   error
}

// startHog starts a child process hogging the ports around target; stop ends it.
func startHog(t *testing.T, target string) *hog {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPortHogProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), hogEnv+"="+target, "GOMAXPROCS=1") // one core at most
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hog{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { _, _ = h.stop() })
	return h
}

// stop ends the hog and returns its successful binds per port (the link's in the middle).
func (h *hog) stop() ([]int, error) {
	h.once.Do(func() {
		_ = h.stdin.Close()
		line, rerr := h.out.ReadString('\n')
		werr := h.cmd.Wait()
		if rerr != nil || werr != nil {
			h.err = fmt.Errorf("port hog: read %q: %v; exit: %v", line, rerr, werr)
			return
		}
		for _, f := range strings.Fields(line) {
			n, err := strconv.Atoi(f)
			if err != nil {
				h.err = fmt.Errorf("port hog said %q", line)
				return
			}
			h.grabs = append(h.grabs, n)
		}
	})
	return h.grabs, h.err
}

// named answers every request with its name.
func named(t testing.TB, name string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// records is a slog.Handler that keeps the messages and attributes of what it is given.
type records struct {
	mu      sync.Mutex
	msgs    []map[string]any
	waiters []waiter
}

// waiter is a channel closed at the first record with message msg.
type waiter struct {
	msg string
	ch  chan struct{}
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]any{"msg": rec.Message}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.waiters = slices.DeleteFunc(r.waiters, func(w waiter) bool {
		if w.msg == rec.Message {
			close(w.ch)
			return true
		}
		return false
	})
	return nil
}

// with returns the attributes of every record whose message is msg.
func (r *records) with(msg string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, m := range r.msgs {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// next returns a channel closed at the next record whose message is msg.
func (r *records) next(msg string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := waiter{msg, make(chan struct{})}
	r.waiters = append(r.waiters, w)
	return w.ch
}

func TestLinkKeepsItsPortWhileAnotherProcessHogsTheRange(t *testing.T) {
	if testing.Short() {
		t.Skip("hammers ports for seconds")
	}
	cases := []struct {
		name    string
		changes int
		// change points l at upstream, through whatever makes Toxiproxy listen again.
		change func(ctx context.Context, l *netfault.Link, upstream string) error
	}{
		{"set upstream", 300, func(ctx context.Context, l *netfault.Link, upstream string) error {
			return l.SetUpstream(ctx, upstream)
		}},
		{"disable, set upstream, enable", 100, func(ctx context.Context, l *netfault.Link, upstream string) error {
			if err := l.Disable(ctx); err != nil {
				return err
			}
			if err := l.SetUpstream(ctx, upstream); err != nil {
				return err
			}
			return l.Enable(ctx)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &records{}
			srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			m := netfault.New(loopHost{srv.Addr()}, netfault.WithLogger(slog.New(logs)))
			t.Cleanup(func() { _ = m.Close(context.Background()) })
			upstreams := []struct{ name, addr string }{{"a", named(t, "a")}, {"b", named(t, "b")}}
			l, err := m.Create(t.Context(), "hammered", upstreams[0].addr)
			if err != nil {
				t.Fatal(err)
			}
			listen := l.Listen()
			h := startHog(t, listen)

			var longest time.Duration
			for i := range tc.changes {
				up := upstreams[(i+1)%2]
				began := time.Now()
				if err := tc.change(t.Context(), l, up.addr); err != nil {
					t.Fatalf("change %d of %d, to %s (%s): %v", i+1, tc.changes, up.name, up.addr, err)
				}
				longest = max(longest, time.Since(began))
				if l.Listen() != listen || l.NetAddr() != listen {
					t.Fatalf("change %d: the link listens on %s (advertised %s), was %s", i+1, l.Listen(), l.NetAddr(), listen)
				}
				if body, _, err := get(t, l, "/"); err != nil || body != up.name {
					t.Fatalf("change %d: through the link: %q, %v; want upstream %s", i+1, body, err, up.name)
				}
			}
			grabs, err := h.stop()
			if err != nil {
				t.Fatal(err)
			}
			recovered := logs.with("proxy listening again")
			retries, slowest := 0, time.Duration(0)
			for _, r := range recovered {
				retries += int(r["attempts"].(int64))
				slowest = max(slowest, r["took"].(time.Duration))
			}
			if len(recovered) == 0 {
				t.Fatalf("the hog never took the link's port (it bound its neighbours %v times): the test proved nothing", grabs)
			}
			t.Logf("%d changes, the longest %s; the hog bound the link's port %d times and its neighbours %v; "+
				"the link took its port back %d times, in %d retries, the slowest in %s",
				tc.changes, longest, grabs[hogSpan], grabs, len(recovered), retries, slowest)
		})
	}
}

func TestEnableWaitsForItsPort(t *testing.T) {
	cases := []struct {
		name string
		wait time.Duration // WithRelistenWait
		// what happens once the link has tried once to take its port back
		free, cancel bool
		want         []string // in Enable's error; none: Enable succeeds
		wantIs       error
	}{
		{name: "the other process lets go", wait: time.Minute, free: true},
		{name: "the other process holds on", wait: 50 * time.Millisecond,
			want: []string{"enable proxy svc (listen ", "another process held it for ", "address already in use"}},
		{name: "the caller gives up", wait: time.Minute, cancel: true,
			want: []string{"enable proxy svc (listen ", "context canceled after ", "address already in use"}, wantIs: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &records{}
			srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			m := netfault.New(loopHost{srv.Addr()}, netfault.WithLogger(slog.New(logs)), netfault.WithRelistenWait(tc.wait))
			t.Cleanup(func() { _ = m.Close(context.Background()) })
			l := create(t, m, "svc", newBackend(t))
			listen := l.Listen()
			if err := l.Disable(t.Context()); err != nil {
				t.Fatal(err)
			}
			taken, err := net.Listen("tcp", listen) // another process binds the port
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			retried := logs.next("proxy port taken, listening again")
			done := make(chan error, 1)
			go func() { done <- l.Enable(ctx) }()
			select {
			case <-retried:
			case err := <-done:
				t.Fatalf("Enable on a taken port returned before it tried again: %v", err)
			}
			if tc.free {
				taken.Close()
			}
			if tc.cancel {
				cancel()
			}
			err = <-done

			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Enable once the port came free: %v", err)
				}
			} else {
				for _, w := range tc.want {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Fatalf("Enable: %v; want an error with %q", err, w)
					}
				}
				if !strings.Contains(err.Error(), listen) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
					t.Fatalf("Enable: %v; want it to name %s and wrap %v", err, listen, tc.wantIs)
				}
				if on, err := l.Enabled(t.Context()); err != nil || on {
					t.Fatalf("Enabled after a failed Enable: %v, %v", on, err)
				}
				taken.Close()
				if err := l.Enable(t.Context()); err != nil {
					t.Fatalf("Enable once the port came free: %v", err)
				}
			}
			if body, _, err := get(t, l, "/x"); err != nil || body != "ok /x" || l.Listen() != listen {
				t.Fatalf("through the link: %q, %v (listen %s, was %s)", body, err, l.Listen(), listen)
			}
		})
	}
}

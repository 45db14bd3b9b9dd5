package security_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness"
)

// TestLocalRun brings the small system up once as local processes and checks the
// gateway's access policy under load and the run's listening sockets on it.
func TestLocalRun(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc: Linux only")
	}
	r := upLocal(t)
	t.Run("gateway answers 401 and 429, never 5xx, under load", func(t *testing.T) {
		checkAccessPolicyUnderLoad(t, r)
	})
	t.Run("every listening socket of the run is on loopback", func(t *testing.T) {
		checkLocalListeners(t, r)
	})
}

// listener is one listening TCP socket.
type listener struct {
	addr netip.AddrPort
	pid  int
	proc string
}

func (l listener) String() string { return fmt.Sprintf("%s (pid %d, %s)", l.addr, l.pid, l.proc) }

// checkLocalListeners reads every listening TCP socket of the run's processes — the
// harness process itself, which embeds Toxiproxy (its API and every proxy), and every
// instance and database with its children — from /proc, and fails on any not bound
// to 127.0.0.1 or ::1. It also checks that it saw the sockets it must have seen, so
// that an empty scan cannot pass.
func checkLocalListeners(t *testing.T, r *harness.Running) {
	pids := []int{os.Getpid()}
	want := map[uint16]string{} // ports that must be among the listeners
	var instances []*harness.Instance
	instances = append(instances, r.All()...)
	for _, svc := range r.System().Services {
		if db := r.Database(svc.Name); db != nil {
			instances = append(instances, db)
		}
	}
	for _, inst := range instances {
		p, ok := inst.Instance.(interface{ Pid() int })
		if !ok || p.Pid() <= 0 {
			t.Fatalf("instance %s: no pid to look at (%T)", inst.Name(), inst.Instance)
		}
		pids = append(pids, descendants(p.Pid())...)
		ap, err := netip.ParseAddrPort(inst.HostAddr())
		if err != nil {
			t.Fatalf("instance %s: host address %q: %v", inst.Name(), inst.HostAddr(), err)
		}
		want[ap.Port()] = inst.Name()
		if inst.Ingress != nil {
			addr, err := inst.Ingress.HostAddr(context.Background())
			if err != nil {
				t.Fatalf("proxy %s: %v", inst.Ingress.Name(), err)
			}
			if ap, err := netip.ParseAddrPort(addr); err == nil {
				want[ap.Port()] = "proxy " + inst.Ingress.Name()
			}
		}
	}

	listening, err := listeningSockets()
	if err != nil {
		t.Fatalf("read /proc/net/tcp: %v", err)
	}
	var found []listener
	for _, pid := range pids {
		inodes, err := socketInodes(pid)
		if err != nil {
			t.Fatalf("sockets of pid %d: %v", pid, err)
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		for _, ino := range inodes {
			if addr, ok := listening[ino]; ok {
				found = append(found, listener{addr: addr, pid: pid, proc: strings.TrimSpace(string(comm))})
			}
		}
	}
	t.Logf("%d processes, %d listening sockets", len(pids), len(found))
	for _, l := range found {
		if !l.addr.Addr().Unmap().IsLoopback() {
			t.Errorf("listening on %s, beyond loopback: bind 127.0.0.1 (the local runtime's instances get LISTEN_ADDR=127.0.0.1:<port>)", l)
		}
		delete(want, l.addr.Port())
	}
	for port, what := range want {
		t.Errorf("did not find %s's listening socket (port %d) among the run's: the scan misses sockets", what, port)
	}
}

// descendants is pid and every process under it.
func descendants(pid int) []int {
	out := []int{pid}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, c := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(c); err == nil && !slices.Contains(out, n) {
				out = append(out, descendants(n)...)
			}
		}
	}
	return out
}

// socketInodes lists the inodes of the sockets pid holds open.
func socketInodes(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed since ReadDir
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			out = append(out, strings.TrimSuffix(ino, "]"))
		}
	}
	return out, nil
}

// listeningSockets maps the inode of every listening TCP socket of the host (IPv4 and
// IPv6) to its local address.
func listeningSockets() (map[string]netip.AddrPort, error) {
	out := map[string]netip.AddrPort{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			addr, err := parseProcAddr(fields[1])
			if err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: %q: %w", f, fields[1], err)
			}
			out[fields[9]] = addr
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseProcAddr reads /proc/net/tcp's "0100007F:1F90": the address in host order, 32
// bits at a time, then the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port")
	}
	raw, err := hex.DecodeString(hexAddr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address")
	}
	for i := 0; i < len(raw); i += 4 { // each 32-bit word is little-endian here
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port: %w", err)
	}
	ip, _ := netip.AddrFromSlice(net.IP(raw))
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestReservePortHoldsAPortForItsLiveOwnerOnly(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	const port = 23456
	if !reservePort(port) {
		t.Fatal("a port nobody holds could not be reserved")
	}
	if reservePort(port) {
		t.Error("a port this live process holds was reserved a second time (by another run in the same process)")
	}
	releasePort(port)
	if !reservePort(port) {
		t.Error("a released port could not be reserved again")
	}
	releasePort(port)

	// A reservation whose owner is dead is taken over, and reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(portsDir(), strconv.Itoa(port))
	if err := os.WriteFile(path, fmt.Appendf(nil, "pid=%d start=1\n", dead.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	if !reservePort(port) {
		t.Error("a dead run's reservation was not taken over")
	}
	releasePort(port)
	if err := os.WriteFile(path, fmt.Appendf(nil, "pid=%d start=1\n", dead.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := reapPorts(); n != 1 {
		t.Errorf("reapPorts removed %d, want the dead run's one", n)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the dead run's reservation is still there (%v)", err)
	}
}

func TestRuntimesInOneProcessNeverDrawTheSamePort(t *testing.T) {
	if lo, hi := portRange(); lo >= hi {
		t.Skip("no port range below the kernel's ephemeral one here: ports are the kernel's pick")
	}
	t.Setenv("TMPDIR", t.TempDir())
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, rt := range []*Runtime{a, b} {
		for range 200 {
			rt.mu.Lock()
			port, err := rt.freePort()
			if err == nil {
				rt.ports[port] = true
			}
			rt.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if seen[port] {
				t.Fatalf("port %d drawn twice across two runtimes", port)
			}
			seen[port] = true
		}
	}
	for _, rt := range []*Runtime{a, b} {
		if err := rt.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(portsDir()); len(entries) != 0 {
		t.Errorf("%d reservations left after both runtimes closed", len(entries))
	}
}

package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestReapRemovesOnlyTheDirectoriesOfDeadRuns: a run directory whose owner is dead goes;
// one whose owner lives, one with no owner and one that is not a run directory stay.
func TestReapRemovesOnlyTheDirectoriesOfDeadRuns(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here: Reap cannot judge an owner, and keeps everything")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatalf("run a process that ends at once: %v", err)
	}
	mk := func(name, owner string) string {
		t.Helper()
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "svc-1", "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	started, _ := processStart(os.Getpid())
	deadDir := mk("faultline-dead-1", fmt.Sprintf("pid=%d start=1\n", dead.Process.Pid))
	liveDir := mk("faultline-live-1", fmt.Sprintf("pid=%d start=%d\n", os.Getpid(), started))
	reusedDir := mk("faultline-reused-1", fmt.Sprintf("pid=%d start=%d\n", os.Getppid(), started+1_000_000))
	unmarked := mk("faultline-unmarked-1", "")
	other := mk("other-dead-1", fmt.Sprintf("pid=%d start=1\n", dead.Process.Pid))

	n, err := Reap(nil)
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if n != 2 {
		t.Errorf("Reap removed %d directories, want 2 (the dead owner's and the reused pid's)", n)
	}
	for dir, want := range map[string]bool{deadDir: false, reusedDir: false, liveDir: true, unmarked: true, other: true} {
		_, err := os.Stat(dir)
		if got := err == nil; got != want {
			t.Errorf("after Reap, %s exists = %v, want %v", filepath.Base(dir), got, want)
		}
	}
}

// TestNewMarksItsRunDirectory: the directory New makes names its owner, and a second
// runtime's Reap leaves it alone while the owner lives.
func TestNewMarksItsRunDirectory(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	rt, err := New(WithRunID("owner-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	pid, _, ok := readOwner(rt.Dir())
	if !ok || pid != os.Getpid() {
		t.Fatalf("run directory %s names owner %d (ok %v), want this process %d", rt.Dir(), pid, ok, os.Getpid())
	}
	if _, err := Reap(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rt.Dir()); err != nil {
		t.Errorf("Reap removed the directory of a live run: %v", err)
	}
}

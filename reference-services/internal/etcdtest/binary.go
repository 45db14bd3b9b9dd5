package etcdtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// modulePath is the module whose root holds bin/etcd.
const modulePath = "github.com/faultline/faultline"

// RepoRoot returns the directory of the faultline module, found by walking up from the
// working directory (a test runs in its package's directory).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("etcdtest: working directory: %v", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("etcdtest: no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// Binary returns the path of an etcd server binary: $FAULTLINE_ETCD when set, else
// <repo root>/bin/etcd, which it builds first when missing (about 90 s cold). Parallel
// test packages share one build through a file lock.
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FAULTLINE_ETCD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("etcdtest: FAULTLINE_ETCD=%s: %v", p, err)
		}
		return p
	}
	root := RepoRoot(tb)
	bin := filepath.Join(root, "bin", "etcd")
	if executable(bin) {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		tb.Fatalf("etcdtest: %v", err)
	}
	unlock := lock(tb, bin+".lock")
	defer unlock()
	if executable(bin) { // another package built it while we waited
		return bin
	}
	tb.Logf("etcdtest: building etcd into %s (go build go.etcd.io/etcd/server/v3; about 90 s cold, seconds when cached)", bin)
	start := time.Now()
	if err := goBuild(root, bin, "go.etcd.io/etcd/server/v3"); err != nil {
		tb.Fatalf("etcdtest: build etcd: %v", err)
	}
	tb.Logf("etcdtest: built etcd in %s", time.Since(start).Round(time.Second))
	return bin
}

// BuildCommand builds the reference service command reference-services/cmd/<name> as a
// static binary into a temporary directory of tb and returns its path.
func BuildCommand(tb testing.TB, name string) string {
	tb.Helper()
	root := RepoRoot(tb)
	out := filepath.Join(tb.TempDir(), name)
	start := time.Now()
	if err := goBuild(root, out, "./reference-services/cmd/"+name); err != nil {
		tb.Fatalf("etcdtest: build %s: %v", name, err)
	}
	tb.Logf("etcdtest: built %s in %s", name, time.Since(start).Round(100*time.Millisecond))
	return out
}

// goBuild builds pkg statically into out, through a temporary file renamed into place so
// that nobody ever runs a half-written binary.
func goBuild(root, out, pkg string) error {
	goCmd := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goCmd = p
	}
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command(goCmd, "build", "-o", tmp, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("install %s: %w", out, err)
	}
	return nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lock takes an exclusive flock on path and returns its release.
func lock(tb testing.TB, path string) func() {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		tb.Fatalf("etcdtest: lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		tb.Fatalf("etcdtest: lock %s: %v", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

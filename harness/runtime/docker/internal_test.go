package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/runtime"
)

func TestPlaceholdersAreWhatAContainerSees(t *testing.T) {
	s := runtime.Spec{Name: "accounts-1", Port: 8080}
	got := replaceAll([]string{"-listen={{listen}}", "-port", "{{port}}", "-advertise={{netaddr}}", "{{datadir}}/db"}, s)
	want := []string{"-listen=0.0.0.0:8080", "-port", "8080", "-advertise=accounts-1:8080", "/data/db"}
	if !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	env := replaceEnv(map[string]string{"ADDR": "{{netaddr}}", "PLAIN": "x"}, s)
	if env["ADDR"] != "accounts-1:8080" || env["PLAIN"] != "x" {
		t.Errorf("env = %v", env)
	}
}

func TestBindAddr(t *testing.T) {
	for _, tc := range []struct {
		host  string
		local bool
		want  string
	}{
		{"127.0.0.1", true, "127.0.0.1"},
		{"localhost", true, "127.0.0.1"},
		{"10.1.2.3", true, "10.1.2.3"},
		{"docker.example", true, "invalid IP"},
		{"127.0.0.1", false, "invalid IP"},
	} {
		if got := bindAddr(tc.host, tc.local).String(); got != tc.want {
			t.Errorf("bindAddr(%q, local=%v) = %s, want %s", tc.host, tc.local, got, tc.want)
		}
	}
	if !isLocalSocket("unix:///var/run/docker.sock") || isLocalSocket("tcp://10.0.0.1:2375") {
		t.Errorf("isLocalSocket: unix must be local, tcp must not")
	}
}

func TestRepoName(t *testing.T) {
	for in, want := range map[string]string{
		"testsvc":             "testsvc",
		"Faultline-Toxiproxy": "faultline-toxiproxy",
		"my app+v2":           "my-app-v2",
		"...":                 "app",
	} {
		if got := repoName(in); got != want {
			t.Errorf("repoName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunAliveJudgesOnlyItsOwnHost(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	labels := func(h string, pid int, started string) map[string]string {
		return map[string]string{LabelHost: h, LabelPID: strconv.Itoa(pid), LabelStarted: started}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		alive  bool
	}{
		{"this process", labels(host, os.Getpid(), now), true},
		{"a dead pid", labels(host, dead.Process.Pid, now), false},
		{"a dead pid on another host", labels(host+"-elsewhere", dead.Process.Pid, now), true},
		{"no host label", labels("", dead.Process.Pid, now), true},
		{"no pid", map[string]string{LabelHost: host}, true},
		// pid 1 lives, but started long after a run of 1970: the pid was reused.
		{"a reused pid", labels(host, 1, "100"), false},
	} {
		if got := runAlive(tc.labels, host); got != tc.alive {
			t.Errorf("%s: runAlive = %v, want %v", tc.name, got, tc.alive)
		}
	}
}

func TestBuildContextHonoursDockerignoreAndIgnoresTimes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\nCOPY app /app\n")
	write(".dockerignore", "junk*\ncache/\n")
	write("app", "binary")
	write("junk.log", "noise")
	write("cache/x", "noise")
	write("data/.keep", "")

	files, err := contextFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".dockerignore", "Dockerfile", "app", "data", "data/.keep"}
	if !slices.Equal(files, want) {
		t.Errorf("context files = %q, want %q", files, want)
	}
	sum1, err := hashFiles(dir, files)
	if err != nil {
		t.Fatal(err)
	}

	// Touching a file or changing an ignored one keeps the hash; changing content does not.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "app"), later, later); err != nil {
		t.Fatal(err)
	}
	write("junk.log", "more noise")
	if sum2, _ := hashFiles(dir, files); sum2 != sum1 {
		t.Errorf("hash changed with a file's time or an ignored file")
	}
	write("app", "another binary")
	if sum3, _ := hashFiles(dir, files); sum3 == sum1 {
		t.Errorf("hash kept when the binary changed")
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tarFiles(tw, dir, files); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	var names []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if want := []string{".dockerignore", "Dockerfile", "app", "data/", "data/.keep"}; !slices.Equal(names, want) {
		t.Errorf("tar holds %q, want %q", names, want)
	}
}

func TestBinaryHashCoversTheRecipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(path, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newImageCache()
	a, err := c.binaryHash(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newImageCache().binaryHash(path)
	if a != b || len(a) != 64 {
		t.Errorf("hash of one file: %q then %q", a, b)
	}
	if err := os.WriteFile(path, []byte("binary, rebuilt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if c2, _ := c.binaryHash(path); c2 == a {
		t.Errorf("hash kept after the binary changed")
	}
}

func TestImageCacheBuildsOnceAndRetriesAfterACancelledBuild(t *testing.T) {
	c := newImageCache()
	absent := func(context.Context, string) (bool, error) { return false, nil }
	var builds atomic.Int32
	release := make(chan struct{})
	slow := func() error { builds.Add(1); <-release; return nil }

	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.once(context.Background(), "img:1", slow, absent); err != nil {
				t.Errorf("once: %v", err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("five concurrent starts built %d times, want once", n)
	}
	if err := c.once(context.Background(), "img:1", slow, absent); err != nil || builds.Load() != 1 {
		t.Errorf("a later start built again (%d builds, err %v)", builds.Load(), err)
	}

	// A build that gives up with its caller's context does not fail the others.
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go c.once(ctx, "img:2", func() error { close(started); <-ctx.Done(); return ctx.Err() }, absent)
	<-started
	done := make(chan error)
	go func() { done <- c.once(context.Background(), "img:2", func() error { return nil }, absent) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("after another caller's build was cancelled: %v, want a build of its own", err)
	}

	// An image the engine has is never built.
	present := func(context.Context, string) (bool, error) { return true, nil }
	if err := c.once(context.Background(), "img:3", func() error { return errors.New("built") }, present); err != nil {
		t.Errorf("image present: %v", err)
	}
}

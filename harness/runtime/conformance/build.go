package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/faultline/faultline/harness/runtime"
)

// testServicePkg is the import path of the service the suite runs.
const testServicePkg = "github.com/faultline/faultline/harness/runtime/conformance/testsvc"

// built caches the test service's build for the life of the test binary.
var built struct {
	mu   sync.Mutex
	path string
}

// BuildTestService builds testsvc as a static binary (CGO_ENABLED=0, -trimpath, so the
// same source gives the same bytes and the docker backend can reuse its image) and
// returns it as an Artifact. It builds once per test binary; the binary lives in the
// user cache directory as faultline/testsvc/<os>_<arch>/<hash of its bytes>/testsvc,
// renamed into place, so concurrent test binaries never see half a file, and two
// checkouts of different commits on one machine (a flake hunt's clones beside a work
// tree) never run each other's build.
func BuildTestService(t testing.TB) runtime.Artifact {
	t.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.path != "" {
		return runtime.Artifact{Binary: built.path}
	}
	path, err := buildTestService()
	if err != nil {
		t.Fatalf("build test service: %v", err)
	}
	built.path = path
	return runtime.Artifact{Binary: path}
}

func buildTestService() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build %s: %w", testServicePkg, err)
	}
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	dir := filepath.Join(root, "faultline", "testsvc", goruntime.GOOS+"_"+goruntime.GOARCH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmpDir, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "testsvc")
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", tmp, testServicePkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", testServicePkg, err, out.Bytes())
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	// A directory per build, the binary keeping its name: the docker backend names its
	// image after it.
	own := filepath.Join(dir, hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(own, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(own, "testsvc")
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return path, nil
}

// ServiceSpec is the Spec the suite starts testsvc with: LISTEN_ADDR and DATA_DIR from
// the placeholders, port 8080 in a container, ready when /healthz answers 200.
func ServiceSpec(name string, artifact runtime.Artifact) runtime.Spec {
	return runtime.Spec{
		Name:     name,
		Service:  "testsvc",
		Artifact: artifact,
		Env: map[string]string{
			"LISTEN_ADDR": runtime.PlaceholderListen,
			"DATA_DIR":    runtime.PlaceholderDataDir,
		},
		Port:   8080,
		Health: "/healthz",
	}
}

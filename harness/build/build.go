// Package build turns a Go main package path into a static binary (CGO_ENABLED=0) that
// both runtimes can run: as a child process, or wrapped in a scratch image. Binaries are
// built once per process and package; a directory of prebuilt ones (FAULTLINE_BIN, which
// `make` sets) is used when it holds the binary.
//
// It imports nothing of the harness.
package build

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Builder builds Go main packages into a cache directory.
type Builder struct {
	dir      string
	prebuilt string
	log      *slog.Logger
	mu       sync.Mutex
	built    map[string]*result
}

type result struct {
	once sync.Once
	path string
	err  error
}

// Option customises a Builder.
type Option func(*Builder)

// WithDir sets where binaries are written (default: $FAULTLINE_CACHE/bin, else the user
// cache directory's faultline/bin).
func WithDir(dir string) Option { return func(b *Builder) { b.dir = dir } }

// WithPrebuilt sets a directory of prebuilt binaries, named for their package (default
// $FAULTLINE_BIN): a Go binary is taken only when its build information says it was
// built from the package asked for. An empty string turns it off.
func WithPrebuilt(dir string) Option { return func(b *Builder) { b.prebuilt = dir } }

// WithLogger sets where a build says it starts and how long it took (default: nowhere),
// so that a bring-up that spends half a minute compiling says so.
func WithLogger(l *slog.Logger) Option { return func(b *Builder) { b.log = l } }

// New returns a Builder.
func New(opts ...Option) *Builder {
	b := &Builder{prebuilt: os.Getenv("FAULTLINE_BIN"), built: map[string]*result{}, log: slog.New(slog.DiscardHandler)}
	if c := os.Getenv("FAULTLINE_CACHE"); c != "" {
		b.dir = filepath.Join(c, "bin")
	} else if c, err := os.UserCacheDir(); err == nil {
		b.dir = filepath.Join(c, "faultline", "bin")
	} else {
		b.dir = filepath.Join(os.TempDir(), "faultline-bin")
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// builtFrom tells whether the binary at path may stand for the main package pkg: a Go
// binary only when its build information names pkg (bin/orders of one module is not
// another module's cmd/orders); a file with no Go build information (a script, a stand-in
// a test or a user put there on purpose) by its name alone.
func builtFrom(path, pkg string) bool {
	info, err := buildinfo.ReadFile(path)
	return err != nil || info.Path == pkg
}

// prebuiltFor finds pkg's binary in the directory dir: the file called name when it may
// stand for pkg (builtFrom), else any Go binary whose build information names pkg, so
// that a binary built under a name of its maker's choosing (`go build -o bin/etcd
// go.etcd.io/etcd/server/v3`) is found without the harness knowing that name.
func prebuiltFor(dir, name, pkg string) (string, bool) {
	if p := filepath.Join(dir, name); executable(p) && builtFrom(p, pkg) {
		return p, true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Name() == name || !executable(p) {
			continue
		}
		if info, err := buildinfo.ReadFile(p); err == nil && info.Path == pkg {
			return p, true
		}
	}
	return "", false
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

var versionElem = regexp.MustCompile(`^v[0-9]+$`)

// Name is the file name a package's binary gets, by go build's own rule: its last path
// element, skipping a major-version suffix ("example.com/thing/v2" gives "thing").
func Name(pkg string) string {
	base := path.Base(pkg)
	if versionElem.MatchString(base) {
		base = path.Base(path.Dir(pkg))
	}
	return base
}

// Package returns the path of a static binary of the Go main package pkg, building it
// the first time it is asked for in this process.
func (b *Builder) Package(ctx context.Context, pkg string) (string, error) {
	if pkg == "" {
		return "", fmt.Errorf("build: package is empty: give a Go main package path")
	}
	b.mu.Lock()
	r, ok := b.built[pkg]
	if !ok {
		r = &result{}
		b.built[pkg] = r
	}
	b.mu.Unlock()
	r.once.Do(func() { r.path, r.err = b.build(ctx, pkg) })
	return r.path, r.err
}

func (b *Builder) build(ctx context.Context, pkg string) (string, error) {
	name := Name(pkg)
	if b.prebuilt != "" {
		if p, ok := prebuiltFor(b.prebuilt, name, pkg); ok {
			return p, nil
		}
	}
	// A directory per package and working directory: two packages whose binaries share
	// a name (svc-a/cmd/server, svc-b/cmd/server), or one package in two checkouts on
	// one machine, never overwrite each other. The binary keeps its name: the docker
	// backend names its image after it.
	wd, _ := os.Getwd()
	key := sha256.Sum256([]byte(pkg + "\x00" + wd))
	dir := filepath.Join(b.dir, hex.EncodeToString(key[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	out := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b.log.Info("building Go package", "package", pkg)
	began := time.Now()
	if outb, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: go build: %w\n%s", pkg, err, strings.TrimSpace(string(outb)))
	}
	b.log.Info("built Go package", "package", pkg, "took", time.Since(began).Round(time.Millisecond))
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return out, nil
}

// Package build turns a Go main package path into a static binary (CGO_ENABLED=0) that
// both runtimes can run: as a child process, or wrapped in a scratch image. Binaries are
// built once per process and package; a directory of prebuilt ones (FAULTLINE_BIN, which
// `make` sets) is used when it holds the binary.
//
// It imports nothing of the harness.
package build

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Builder builds Go main packages into a cache directory.
type Builder struct {
	dir      string
	prebuilt string
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
// $FAULTLINE_BIN). An empty string turns it off.
func WithPrebuilt(dir string) Option { return func(b *Builder) { b.prebuilt = dir } }

// New returns a Builder.
func New(opts ...Option) *Builder {
	b := &Builder{prebuilt: os.Getenv("FAULTLINE_BIN"), built: map[string]*result{}}
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

var versionElem = regexp.MustCompile(`^v[0-9]+$`)

// known names binaries whose package path does not end in their name.
var known = map[string]string{"go.etcd.io/etcd/server/v3": "etcd"}

// Name is the file name a package's binary gets: its last path element, skipping a
// major-version suffix.
func Name(pkg string) string {
	if n, ok := known[pkg]; ok {
		return n
	}
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
		p := filepath.Join(b.prebuilt, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	out := filepath.Join(b.dir, name)
	tmp, err := os.CreateTemp(b.dir, name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: go build: %w\n%s", pkg, err, strings.TrimSpace(string(outb)))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return out, nil
}

package system_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestMain points the harness at the binaries `make build` left in bin/ when nothing
// else says where they are, so that no benchmark times a go build.
func TestMain(m *testing.M) {
	root, _ := filepath.Abs("../..")
	if os.Getenv("FAULTLINE_BIN") == "" {
		if _, err := os.Stat(filepath.Join(root, "bin", "gateway")); err == nil {
			os.Setenv("FAULTLINE_BIN", filepath.Join(root, "bin"))
		}
	}
	if os.Getenv("FAULTLINE_ETCD") == "" {
		if _, err := os.Stat(filepath.Join(root, "bin", "etcd")); err == nil {
			os.Setenv("FAULTLINE_ETCD", filepath.Join(root, "bin", "etcd"))
		}
	}
	os.Exit(m.Run())
}

// quiet is a logger that keeps the benchmarks' output to the figures.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// session names everything one benchmark process starts on docker, so that ci/bench.sh
// can remove it by name after a crash: FAULTLINE_BENCH_SESSION, else a random id.
var session = func() string {
	if s := os.Getenv("FAULTLINE_BENCH_SESSION"); s != "" {
		return s
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// median of durations (the lower middle of an even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// seconds is d in seconds, for figures.
func seconds(d time.Duration) float64 { return d.Seconds() }

// bounded returns a context for one step of a benchmark, cancelled at the benchmark's end.
func bounded(b testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	b.Cleanup(cancel)
	return ctx
}

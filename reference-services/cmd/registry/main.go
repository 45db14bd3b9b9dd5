// Command registry runs the reference system's service registry: the HTTP API of
// reference-services/registry over a bbolt file in DATA_DIR.
//
// It takes no flags. Settings come from the environment, each with a working default:
//
//	LISTEN_ADDR   host:port to listen on            (default :8500)
//	DATA_DIR      directory of registry.db, created (default data)
//	REGISTRY_TTL  default lease length              (default 3s)
//	LOG_LEVEL     debug, info, warn or error        (default info)
//
// Bad settings are all printed and the exit status is 2. Logs are JSON on stderr.
// SIGTERM or SIGINT shut it down gracefully.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/registry"
)

// shutdownBound bounds a graceful shutdown: in-flight requests get this long.
const shutdownBound = 5 * time.Second

func main() {
	s, err := loadSettings(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry: bad settings:")
		for _, e := range flatten(err) {
			fmt.Fprintln(os.Stderr, "  "+e.Error())
		}
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: s.level})).With("service", "registry")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, s, log); err != nil {
		log.Error("registry stopped", "err", err)
		os.Exit(1)
	}
}

// run serves the registry until ctx ends, then shuts down within shutdownBound.
func run(ctx context.Context, s settings, log *slog.Logger) error {
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return fmt.Errorf("create DATA_DIR %s: %w", s.dataDir, err)
	}
	reg, err := registry.Open(filepath.Join(s.dataDir, "registry.db"), registry.WithTTL(s.ttl), registry.WithLogger(log))
	if err != nil {
		return err
	}
	defer reg.Close()

	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR %s: %w", s.listen, err)
	}
	srv := &http.Server{
		Handler:           reg.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Long polls must not hold the shutdown up: answer them when it begins.
	srv.RegisterOnShutdown(reg.Drain)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "data_dir", s.dataDir, "ttl", s.ttl.String())

	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", s.listen, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBound)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time", "err", err)
	}
	if err := reg.Close(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// flatten lists the errors joined in err, one per bad setting.
func flatten(err error) []error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// Command gateway runs the reference system's API gateway: it routes /api/<service>/...
// to live instances found in the registry, under the access and resilience policies of
// package gateway. It takes no flags; every setting is an environment variable with a
// working default:
//
//	LISTEN_ADDR              address to serve on (default :8080)
//	REGISTRY_ADDR            registry host:port (default registry:8500 on a container
//	                         network that knows that name, else 127.0.0.1:8500)
//	LOG_LEVEL                debug, info, warn or error (default info)
//	GATEWAY_API_KEYS         comma-separated keys accepted in X-API-Key (default demo-key)
//	GATEWAY_RATE             requests per second per key (default 200)
//	GATEWAY_BURST            token bucket size per key (default 400)
//	GATEWAY_RETRIES          extra attempts for idempotent calls (default 2; 0 = none)
//	GATEWAY_BREAKER          per-instance circuit breakers, on|off (default on)
//	GATEWAY_CACHE            cached instance lists, on|off (default on)
//	GATEWAY_ATTEMPT_TIMEOUT  bound on one attempt (default 1s)
//	GATEWAY_BREAKER_DELAY    how long a breaker stays open (default 2s)
//	GATEWAY_RESOLVE_TIMEOUT  bound on the first lookup of a service (default 1s)
//
// Bad settings are all printed at once and the process exits with status 2. It logs
// JSON to stderr and shuts down gracefully on SIGTERM or SIGINT.
//
// Build it static: CGO_ENABLED=0 go build ./reference-services/cmd/gateway
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
	"syscall"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/gateway"
)

// shutdownGrace bounds how long in-flight calls may finish after a stop signal.
const shutdownGrace = 10 * time.Second

func main() {
	env := config.FromOS()
	listen := env.HostPort("LISTEN_ADDR", ":8080")
	registryAddr := env.WellKnown("REGISTRY_ADDR", "registry", "8500")
	levelText := env.String("LOG_LEVEL", "info")
	cfg := gateway.ConfigFromEnv(env)

	var level slog.Level
	levelErr := level.UnmarshalText([]byte(levelText))
	if levelErr != nil {
		levelErr = fmt.Errorf("LOG_LEVEL=%q is not a level: write debug, info, warn or error (default info)", levelText)
	}
	if err := errors.Join(env.Err(), levelErr, cfg.Validate()); err != nil {
		fmt.Fprintf(os.Stderr, "gateway: bad settings:\n%v\n", err)
		os.Exit(2)
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("service", "gateway")
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, log, listen, registryAddr, cfg); err != nil {
		log.Error("gateway stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, log *slog.Logger, listen, registryAddr string, cfg gateway.Config) error {
	client := discovery.NewClient(registryAddr)
	resolver := discovery.NewResolver(client, append(cfg.ResolverOptions(), discovery.WithResolverLogger(log))...)
	defer resolver.Close()
	gw, err := gateway.New(cfg, resolver, gateway.WithLogger(log), gateway.WithRegistryClient(client))
	if err != nil {
		return fmt.Errorf("build gateway: %w", err)
	}
	defer gw.Close()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{
		Handler:           gw.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gateway listening", "addr", ln.Addr().String(), "registry", client.Base(),
		"retries", cfg.Retries, "breaker", cfg.Breaker, "cache", cfg.Cache,
		"attempt_timeout", cfg.AttemptTimeout.String(), "breaker_delay", cfg.BreakerDelay.String(),
		"rate", cfg.Rate, "burst", cfg.Burst, "api_keys", len(cfg.APIKeys))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", listen, err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("gateway stopped")
	return nil
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/reference"
)

func cmdUp(ctx context.Context, args []string) int {
	fs := newFlagSet("up", "Bring the reference system (registry, gateway, accounts, inventory, orders and one\n"+
		"etcd per service, every link through a fault proxy) up with the harness, print how\n"+
		"to reach it, and tear everything down on Ctrl-C.")
	kind := fs.String("runtime", harness.RuntimeKind(), "where to run it: docker, local or auto (docker when an engine answers); default $FAULTLINE_RUNTIME or auto")
	verbose := fs.Bool("v", false, "log every step of the bring-up")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "faultline up: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "faultline up: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "faultline up: starting the reference system (runtime %s)…\n", *kind)
	rt, err := harness.NewRuntime(ctx, *kind, logger)
	if err != nil {
		return fail(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Close(cctx); err != nil {
			fmt.Fprintf(os.Stderr, "faultline up: close the runtime: %v\n", err)
		}
	}()
	opts := []harness.Option{harness.WithRuntime(rt), harness.WithLogger(logger)}
	if dir := prebuiltDir(); dir != "" {
		opts = append(opts, harness.WithBuilder(build.New(build.WithPrebuilt(dir))))
	}
	sys, err := reference.Up(ctx, opts...)
	if err != nil {
		return fail(err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sys.Down(dctx); err != nil {
			fmt.Fprintf(os.Stderr, "faultline up: tear down: %v\n", err)
		}
	}()
	gw, reg := sys.GatewayURL(), sys.RegistryURL()
	fmt.Printf(`The reference system is up on the %s runtime (seed %d).

  gateway   %s
  registry  %s
  API key   %s

Try:
  curl -s -H 'X-API-Key: %[5]s' -X POST %[3]s/api/accounts/v1/accounts -d '{"id":"alice","owner":"Alice"}'
  curl -s -H 'X-API-Key: %[5]s' -H 'Idempotency-Key: dep-1' -X POST %[3]s/api/accounts/v1/accounts/alice/deposit -d '{"amount":100}'
  curl -s -H 'X-API-Key: %[5]s' -X POST %[3]s/api/inventory/v1/items -d '{"id":"widget","name":"Widget","stock":10}'
  curl -s -H 'X-API-Key: %[5]s' -X POST %[3]s/api/orders/v1/orders -d '{"account":"alice","item":"widget","qty":2,"amount":30}'
  curl -si -H 'X-API-Key: %[5]s' %[3]s/api/accounts/v1/accounts/alice
  curl -s %[4]s/v1/services

Press Ctrl-C to stop everything.
`, rt.Name(), sys.Seed(), gw, reg, reference.APIKey)
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return 0
}

// prebuiltDir is where `make build` left the binaries: $FAULTLINE_BIN, else the
// directory of this executable when it holds them, else none (the harness builds them).
func prebuiltDir() string {
	if d := os.Getenv("FAULTLINE_BIN"); d != "" {
		return d
	}
	if exe, err := os.Executable(); err == nil && exists(filepath.Join(filepath.Dir(exe), "gateway")) {
		return filepath.Dir(exe)
	}
	return ""
}

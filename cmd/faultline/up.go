package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/reference"
)

func cmdUp(ctx context.Context, args []string) int {
	fs := newFlagSet("up", "Bring the reference system (registry, gateway, accounts, inventory, orders and one\n"+
		"etcd per service, every link through a fault proxy) up with the harness, print how\n"+
		"to reach it, and tear everything down on Ctrl-C. With -f, bring up your own system\n"+
		"instead: a faultline system file, or a docker-compose file as it is (docker runtime).")
	kind := fs.String("runtime", harness.RuntimeKind(), "where to run it: docker, local, kubernetes ($KUBECONFIG's cluster) or auto (docker when an engine answers); default $FAULTLINE_RUNTIME or auto")
	file := fs.String("f", "", "a system to bring up instead of the reference one: a faultline system YAML (services: a list) or a compose file (services: a mapping)")
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
	var own harness.System
	if *file != "" {
		var err error
		if own, err = loadSystem(ctx, *file); err != nil {
			return fail(err)
		}
		fmt.Fprintf(os.Stderr, "faultline up: starting %s from %s (runtime %s)…\n", own.Name, *file, *kind)
	} else {
		fmt.Fprintf(os.Stderr, "faultline up: starting the reference system (runtime %s)…\n", *kind)
	}
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
	if *file != "" {
		r, err := harness.Up(ctx, own, opts...)
		if err != nil {
			return fail(err)
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := r.Down(dctx); err != nil {
				fmt.Fprintf(os.Stderr, "faultline up: tear down: %v\n", err)
			}
		}()
		fmt.Printf("%s is up on the %s runtime (seed %d).\n\n", own.Name, rt.Name(), r.Seed())
		if err := describe(ctx, os.Stdout, r); err != nil {
			return fail(err)
		}
		fmt.Println("\nEvery address is a fault proxy's. Press Ctrl-C to stop everything.")
		<-ctx.Done()
		fmt.Println("\nstopping…")
		return 0
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
	gw, reg := reference.GatewayURL(sys), reference.RegistryURL(sys)
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

// loadSystem reads a system to bring up: a compose file when its services: is a mapping
// (as compose writes it), else a faultline system file (services: a list).
func loadSystem(ctx context.Context, path string) (harness.System, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return harness.System{}, fmt.Errorf("-f %s: %w", path, err)
	}
	var shape struct {
		Services yaml.Node `yaml:"services"`
	}
	if yaml.Unmarshal(data, &shape) == nil && shape.Services.Kind == yaml.MappingNode {
		return harness.LoadCompose(ctx, path)
	}
	return harness.LoadFile(path)
}

// describe lists every instance of r with where each of its ports is reached: from this
// machine, and from the system's own instances.
func describe(ctx context.Context, w io.Writer, r *harness.Running) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  INSTANCE\tPORT\tFROM HERE\tFROM THE SYSTEM\tLINK")
	for _, inst := range r.All() {
		for _, port := range inst.PortNames() {
			l, err := inst.Port(port)
			if err != nil {
				return err
			}
			host, err := l.HostAddr(ctx)
			if err != nil {
				return fmt.Errorf("%s port %s: %w", inst.Name(), port, err)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", inst.Name(), port, host, l.NetAddr(), l.Name())
		}
	}
	return tw.Flush()
}

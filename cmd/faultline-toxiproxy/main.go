// Command faultline-toxiproxy is Toxiproxy's server with faultline's own toxics
// (harness/toxics) registered: the stock HTTP API on -host:-port, every proxy and toxic
// made through it. The docker runtime runs its static build (CGO_ENABLED=0) as a scratch
// container with -host 0.0.0.0; Toxiproxy binds localhost otherwise, which a container's
// published port cannot reach.
//
// It logs JSON lines (log/slog) to stdout and shuts down on SIGTERM or SIGINT, closing
// every proxy.
//
//	faultline-toxiproxy [-host 127.0.0.1] [-port 8474] [-log-level info]
//
// `faultline-toxiproxy agent` is the kubernetes runtime's agent instead
// (harness/runtime/kubernetes/agent): it runs beside an instance's container in its pod
// and SIGKILLs that container's processes when asked, so that one image serves both.
//
//	faultline-toxiproxy agent [-listen 127.0.0.1:19901] [-linger 3s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/Shopify/toxiproxy/v2"

	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/runtime/kubernetes/agent"
	"github.com/faultline/faultline/harness/toxics"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and outputs, returning the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "agent" {
		return runAgent(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("faultline-toxiproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "host for the API to listen on (0.0.0.0 in a container)")
	port := fs.Int("port", 8474, "port for the API to listen on (0 picks a free one; the log says which)")
	level := fs.String("log-level", "info", "least level logged: debug, info, warn or error")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: faultline-toxiproxy [flags]\n\n"+
			"Toxiproxy %s's server and API, with faultline's toxics (%v) next to its own.\n\nFlags:\n",
			toxiproxyVersion(), toxics.Types())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "faultline-toxiproxy: unexpected arguments %v\n", fs.Args())
		fs.Usage()
		return 2
	}
	if *version {
		fmt.Fprintf(stdout, "faultline-toxiproxy (toxiproxy %s)\n", toxiproxyVersion())
		return 0
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "faultline-toxiproxy: -log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "faultline-toxiproxy: -port %d: want 0..65535\n", *port)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := proxyserver.Start(ctx, net.JoinHostPort(*host, strconv.Itoa(*port)), logger)
	if err != nil {
		logger.Error("start", "err", err)
		return 1
	}
	<-ctx.Done()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		logger.Error("shut down", "err", err)
		return 1
	}
	return 0
}

// runAgent is `faultline-toxiproxy agent`: the agent's server on -listen until SIGTERM.
func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faultline-toxiproxy agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(agent.Port)), "address to answer on, inside the pod")
	linger := fs.Duration("linger", 3*time.Second, "how long to stay, after SIGTERM, once the pod's program has ended: the pod's network lives until its last container ends, so that its address refuses connections, rather than vanish, until the Service stops routing to it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "faultline-toxiproxy agent: unexpected arguments %v\n", fs.Args())
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stdout, nil))
	sig, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sig.Done()
		// The kubelet stops every container of the pod at once; the program may take its
		// grace to end, and the agent stays that long and then its linger.
		_ = agent.AwaitSiblingsGone(context.Background(), os.DirFS("/proc"), os.Getpid())
		time.Sleep(*linger)
		cancel()
	}()
	if err := agent.Serve(ctx, *listen, logger); err != nil {
		logger.Error("agent", "err", err)
		return 1
	}
	return 0
}

// toxiproxyVersion is the version of the Toxiproxy module built in (its own Version
// variable says "git" unless its release build sets it).
func toxiproxyVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/Shopify/toxiproxy/v2" {
				return d.Version
			}
		}
	}
	return toxiproxy.Version
}

// Command faultline runs resilience suites against a system of Go services and renders
// their reports. This first cut has one command, `up`, which starts the reference
// system as local processes on 127.0.0.1 and tears it down on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `faultline: a chaos and fault-tolerance test harness for Go microservices.

Usage:
  faultline up [flags]     start the reference system on 127.0.0.1 until Ctrl-C
  faultline help           this text

Run 'faultline <command> --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "up":
		return cmdUp(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "faultline: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func newFlagSet(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: faultline %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

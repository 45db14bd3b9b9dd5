// Command faultline runs resilience suites against a system of Go services and renders
// their reports: `run` runs a module's experiments (in faultline's checkout, the
// reference suites) and writes reports/<timestamp>/ (with reports/latest pointing at
// it), `list` lists them, `up` brings the reference system up with the harness
// until Ctrl-C, `report` renders a report again from saved data, and `clean` removes
// whatever faultline runs left behind in Docker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `faultline: a chaos and fault-tolerance test harness for Go microservices.

Usage:
  faultline run [flags] [packages] [-- go test flags]
                               run a module's experiments (faultline's own: the reference
                               suites) and write reports/<timestamp>/index.html
  faultline list [flags] [packages]
                               list the experiments run would run, with their labels
  faultline up [flags]         bring the reference system up with the harness until Ctrl-C
  faultline report [flags] DIR render the report in DIR again from its scenarios.json and histories
  faultline clean [flags]      remove every leftover faultline container and network
  faultline help               this text

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
	case "run":
		return cmdRun(ctx, args[1:])
	case "up":
		return cmdUp(ctx, args[1:])
	case "list":
		return cmdList(ctx, args[1:])
	case "report":
		return cmdReport(ctx, args[1:])
	case "clean":
		return cmdClean(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "faultline: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// newFlagSet makes a command's flag set; args names its positional arguments, if any.
func newFlagSet(name, summary string, args ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		pos := ""
		for _, a := range args {
			pos += " " + a
		}
		fmt.Fprintf(fs.Output(), "Usage: faultline %s [flags]%s\n\n%s\n\nFlags:\n", name, pos, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseExit is a command's exit status when its flags did not parse: 0 for --help,
// which printed what was asked for, 2 for a mistake.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/faultline/faultline/harness/runtime"
)

// ExecReady waits until a command run beside the instance exits 0: inside its
// container on docker (the image must hold the program), on the host locally, with the
// runtime's placeholders ("{{port}}", "{{netaddr:peer}}") filled in as the instance sees
// them, e.g. [pg_isready, -h, 127.0.0.1, -p, "{{port}}"].
type ExecReady struct {
	// Command is the program and its arguments.
	Command []string `yaml:"command"`
}

// ForExec waits until the command cmd, run beside the instance, exits 0.
func ForExec(cmd ...string) Ready { return Ready{Exec: &ExecReady{Command: cmd}} }

func (e *ExecReady) String() string { return "command " + strings.Join(e.Command, " ") + " to exit 0" }

func (e *ExecReady) wait(ctx context.Context, t readyTarget) error {
	return poll(ctx, e.String(), func(ctx context.Context) error {
		code, out, err := t.Exec(ctx, e.Command)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("exited %d: %s", code, lastLine(out))
		}
		return nil
	})
}

// lastLine is the last non-empty line of out, for a message.
func lastLine(out []byte) string {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) == 0 || len(lines[len(lines)-1]) == 0 {
		return "(no output)"
	}
	return string(lines[len(lines)-1])
}

// Exec runs cmd beside the instance — in its container on docker, on the host locally,
// placeholders filled in as the instance sees them — and returns its exit code and
// output; runtime.ErrUnsupported where the runtime cannot.
func (i *Instance) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	ex, ok := i.Instance.(runtime.Execer)
	if !ok {
		return 0, nil, fmt.Errorf("exec in %s: %w", i.Name(), errors.Join(runtime.ErrUnsupported,
			fmt.Errorf("its runtime's instances (%T) run no command beside them (runtime.Execer)", i.Instance)))
	}
	return ex.Exec(ctx, cmd)
}

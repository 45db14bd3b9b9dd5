package wait

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Exec waits until a command run beside the instance exits 0: inside its
// container on docker (the image must hold the program), on the host locally, with the
// runtime's placeholders ("{{port}}", "{{netaddr:peer}}") filled in as the instance sees
// them, e.g. [pg_isready, -h, 127.0.0.1, -p, "{{port}}"].
type Exec struct {
	// Command is the program and its arguments.
	Command []string `yaml:"command"`
}

// ForExec waits until the command cmd, run beside the instance, exits 0.
func ForExec(cmd ...string) Strategy { return Strategy{Exec: &Exec{Command: cmd}} }

// String says what it waits for.
func (e *Exec) String() string { return "command " + strings.Join(e.Command, " ") + " to exit 0" }

// Wait waits until t is ready by it, or ctx ends.
func (e *Exec) Wait(ctx context.Context, t Target) error {
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

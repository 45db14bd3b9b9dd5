package wait

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
)

// Log waits until Times lines of the instance's output (stdout and stderr) match
// Pattern.
type Log struct {
	// Pattern is a regular expression (Go's syntax) matched against each line.
	Pattern string `yaml:"pattern"`
	// Times is how many matching lines mean ready (default 1).
	Times int `yaml:"times,omitempty"`
}

// String says what it waits for.
func (l *Log) String() string {
	if l.Times > 1 {
		return fmt.Sprintf("%d lines of output matching %q", l.Times, l.Pattern)
	}
	return fmt.Sprintf("a line of output matching %q", l.Pattern)
}

// Wait waits until t is ready by it, or ctx ends.
func (l *Log) Wait(ctx context.Context, t Target) error {
	re, err := regexp.Compile(l.Pattern)
	if err != nil {
		return fmt.Errorf("log pattern %q: %w", l.Pattern, err)
	}
	return poll(ctx, l.String(), func(ctx context.Context) error {
		out, err := t.Logs(ctx)
		if err != nil {
			return err
		}
		n := 0
		for line := range bytes.Lines(out) {
			if re.Match(bytes.TrimRight(line, "\r\n")) {
				if n++; n >= l.Times {
					return nil
				}
			}
		}
		return fmt.Errorf("%d of %d matching lines seen", n, l.Times)
	})
}

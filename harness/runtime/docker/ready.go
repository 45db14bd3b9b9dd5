package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

const readyPoll = 100 * time.Millisecond

// portStrategy waits until the application in the container accepts connections on
// port. Docker's port proxy accepts on the published port whether or not anything
// listens behind it, and closes the connection at once when nothing does; so a
// connection that stays open (or answers) means the application is there. It execs
// nothing in the container, unlike wait.ForListeningPort.
type portStrategy struct {
	port    network.Port
	timeout time.Duration
}

var (
	_ wait.Strategy        = (*portStrategy)(nil)
	_ wait.StrategyTimeout = (*portStrategy)(nil)
)

func (s *portStrategy) String() string { return "port " + s.port.String() + " accepting connections" }

func (s *portStrategy) Timeout() *time.Duration { return &s.timeout }

func (s *portStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	host, err := target.Host(ctx)
	if err != nil {
		return err
	}
	for {
		if err := stillRunning(ctx, target); err != nil {
			return err
		}
		if mp, err := target.MappedPort(ctx, s.port.String()); err == nil && !mp.IsZero() {
			if accepts(ctx, net.JoinHostPort(host, mp.Port())) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %s: no application accepting connections: %w", s.port, ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}

// accepts reports whether a connection to addr is held open or answered, rather than
// refused or closed at once.
func accepts(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := conn.Read(make([]byte, 1))
	var ne net.Error
	return n > 0 || (errors.As(err, &ne) && ne.Timeout())
}

// runningStrategy waits until the container runs: for instances without a port.
type runningStrategy struct{ timeout time.Duration }

var (
	_ wait.Strategy        = (*runningStrategy)(nil)
	_ wait.StrategyTimeout = (*runningStrategy)(nil)
)

func (s *runningStrategy) String() string { return "the container to run" }

func (s *runningStrategy) Timeout() *time.Duration { return &s.timeout }

func (s *runningStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for {
		st, err := target.State(ctx)
		if err != nil {
			return fmt.Errorf("get state: %w", err)
		}
		if st.Running {
			return nil
		}
		if st.Status == container.StateExited || st.Status == container.StateDead {
			return fmt.Errorf("container exited with code %d", st.ExitCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("container not running: %w", ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}

func stillRunning(ctx context.Context, target wait.StrategyTarget) error {
	st, err := target.State(ctx)
	if err != nil {
		return fmt.Errorf("get state: %w", err)
	}
	if !st.Running {
		return fmt.Errorf("container is %s (exit code %d)", st.Status, st.ExitCode)
	}
	return nil
}

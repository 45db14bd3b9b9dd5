package wait

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// TCP waits until a port accepts connections, through the port's ingress link.
// Toxiproxy accepts every connection and closes it at once when its upstream refuses,
// so a connection counts only once it is held open (or answered) for a moment.
type TCP struct {
	// Port is the port dialled (default: the main port).
	Port string `yaml:"port,omitempty"`
}

// String says what it waits for.
func (c *TCP) String() string { return "port " + c.Port + " accepting connections" }

// Wait waits until t is ready by it, or ctx ends.
func (c *TCP) Wait(ctx context.Context, t Target) error {
	l, err := t.Port(c.Port)
	if err != nil {
		return err
	}
	return poll(ctx, c.String(), func(ctx context.Context) error {
		addr, err := l.HostAddr(ctx)
		if err != nil {
			return err
		}
		return heldOpen(ctx, addr)
	})
}

// heldFor is how long a connection must stay open to count as accepted: long enough
// that Toxiproxy, on a loaded machine, has closed one whose upstream refused.
const heldFor = 500 * time.Millisecond

// heldOpen dials addr and says whether the connection is held open or answered,
// rather than refused or closed at once.
func heldOpen(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(heldFor))
	n, err := conn.Read(make([]byte, 1))
	var ne net.Error
	if n > 0 || (errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	return fmt.Errorf("the connection was closed at once (%v): nothing accepts behind the proxy", err)
}

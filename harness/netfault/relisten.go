package netfault

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Toxiproxy (v2.12.0) closes a proxy's listener and listens again whenever its upstream
// changes (Proxy.Update stops, then starts it) and whenever it is enabled. Between the
// two its port is free, and another process can bind it: the call then fails with
// "address already in use" and leaves the proxy stopped, with its new upstream and its
// listen address as they were. There is no race-free way to change the upstream of a
// running proxy instead: its accept loop reads Proxy.Upstream without a lock, and its
// listener is its own. So a link takes its port back: it enables its proxy again, on
// the same address, until the other process lets go (see relisten).

// The backoff between attempts to take a link's port back: the first wait, doubled
// after each failure up to the last.
const (
	relistenFirstWait = 5 * time.Millisecond
	relistenMaxWait   = 200 * time.Millisecond
)

// defaultRelistenWait is how long a link tries to take its port back unless
// WithRelistenWait says otherwise.
const defaultRelistenWait = 15 * time.Second

// WithRelistenWait bounds how long a link tries to take its listen port back when
// another process bound it while Toxiproxy was listening again (default 15 s), within
// the caller's context. The link's address never changes: instances were handed it.
func WithRelistenWait(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.relistenWait = d
		}
	}
}

// portTaken reports whether err is Toxiproxy failing to listen because another socket
// holds the port. The cause crosses the API as text only.
func portTaken(err error) bool {
	return err != nil && strings.Contains(err.Error(), "address already in use")
}

// relisten enables the link's stopped proxy on its own listen address again and again,
// with a growing wait between attempts, until it listens, the manager's bound runs out
// or ctx ends; cause is the failure that left it stopped. Its error keeps the last
// cause, which names the address.
func (l *Link) relisten(ctx context.Context, cause error) error {
	began := time.Now()
	bound, stop := context.WithTimeout(ctx, l.m.relistenWait)
	defer stop()
	for attempt, backoff := 1, relistenFirstWait; ; attempt, backoff = attempt+1, min(2*backoff, relistenMaxWait) {
		l.m.log.Debug("proxy port taken, listening again", "link", l.name, "listen", l.listen,
			"attempt", attempt, "wait", backoff, "cause", cause.Error())
		if !sleep(bound, backoff) {
			return gaveUp(ctx, attempt-1, time.Since(began), cause)
		}
		p, err := l.m.api.setEnabled(bound, l.name, true)
		switch {
		case err == nil && p.Listen != l.listen:
			return fmt.Errorf("take the port back: toxiproxy listens on %s instead", p.Listen)
		case err == nil:
			l.m.log.Debug("proxy listening again", "link", l.name, "listen", l.listen,
				"attempts", attempt, "took", time.Since(began))
			return nil
		case portTaken(err):
			cause = err
		case bound.Err() != nil: // the call was cut short by the bound or ctx
			return gaveUp(ctx, attempt, time.Since(began), cause)
		default:
			return fmt.Errorf("take the port back: %w", err)
		}
	}
}

// gaveUp says why relisten stopped trying after attempts attempts.
func gaveUp(ctx context.Context, attempts int, took time.Duration, cause error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("take the port back: %w after %d attempts in %s, the last: %w",
			err, attempts, took.Round(time.Millisecond), cause)
	}
	return fmt.Errorf("take the port back: another process held it for %s (%d attempts): %w",
		took.Round(time.Millisecond), attempts, cause)
}

// sleep waits for d, or less if ctx ends first; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// probeTimeout is how long a probe through a link waits for an answer: long enough for a
// busy machine's loopback, short enough that proving a black hole stays quick.
const probeTimeout = 750 * time.Millisecond

// The probes below read netfault's ProbeResult in one place, so that the kinds say only
// what they expect to see.

// expectRefused succeeds when a connection through link is refused. Behind Docker's
// port forwarder (a proxy published from a container) a refused connection shows as one
// accepted and closed at once with no answer, so that counts as refused too.
func expectRefused(ctx context.Context, link *netfault.Link) error {
	r := link.Probe(ctx, probeTimeout)
	if r.Outcome != netfault.Refused && r.Outcome != netfault.Closed {
		return fmt.Errorf("probe through %s: want refused, got %s", link.Name(), describe(r))
	}
	return nil
}

// expectHang succeeds when a connection through link is accepted but never answered.
func expectHang(ctx context.Context, link *netfault.Link) error {
	r := link.Probe(ctx, probeTimeout)
	if r.Outcome != netfault.TimedOut {
		return fmt.Errorf("probe through %s: want no answer within %v, got %s", link.Name(), probeTimeout, describe(r))
	}
	return nil
}

// expectNoAnswer succeeds when a probe through link gets no answer: refused, hung or
// closed (a probe that could not be made proves nothing).
func expectNoAnswer(ctx context.Context, link *netfault.Link) error {
	r := link.Probe(ctx, probeTimeout)
	switch r.Outcome {
	case netfault.Refused, netfault.TimedOut, netfault.Closed:
		return nil
	}
	return fmt.Errorf("probe through %s: want no answer, got %s", link.Name(), describe(r))
}

// expectSlow succeeds when a probe through link is answered no sooner than minimum.
func expectSlow(ctx context.Context, link *netfault.Link, minimum, timeout time.Duration) error {
	r := link.Probe(ctx, timeout)
	if r.Outcome != netfault.Answered || r.Elapsed < minimum {
		return fmt.Errorf("probe through %s: want an answer after at least %v, got %s", link.Name(), minimum, describe(r))
	}
	return nil
}

// describe says what a probe saw: "answered 200 after 12ms", "refused after 0s".
func describe(r netfault.ProbeResult) string { return r.String() }

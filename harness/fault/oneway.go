package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/netfault"
)

// OneWayCutFault stops data through a link in one direction only: with netfault.Upstream
// requests never arrive and callers hang; with netfault.Downstream they arrive and act,
// but no answer comes back (callers hang, or see the connection close if the server
// closes it after answering): the case that tells at-most-once from at-least-once.
type OneWayCutFault struct {
	onLink
}

var _ Fault = (*OneWayCutFault)(nil)

// OneWayCut stops data through link in direction dir (Upstream or Downstream), for ever.
func OneWayCut(link *netfault.Link, dir netfault.Direction) *OneWayCutFault {
	return &OneWayCutFault{onLink: newOnLink("one-way cut", link, []ToxicOption{Stream(dir)})}
}

// Validate checks the parameters.
func (f *OneWayCutFault) Validate() error {
	if f.opts.stream == netfault.Both {
		return badParam(f.kind, "dir", f.opts.stream, "give netfault.Upstream or netfault.Downstream; to cut both ways use BlackHole")
	}
	return f.validate()
}

// Inject adds a timeout toxic of 0 (never close) in the one direction.
func (f *OneWayCutFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "timeout", map[string]any{"timeout": 0})
}

// Verify sees the toxic on the proxy and a probe that gets no answer: upstream it hangs;
// downstream it hangs too, or closes when the server closes after answering (the
// answer itself never arrives).
func (f *OneWayCutFault) Verify(ctx context.Context) error {
	if err := f.listed(ctx); err != nil {
		return err
	}
	if f.opts.stream == netfault.Upstream {
		return expectHang(ctx, f.link)
	}
	return expectNoAnswer(ctx, f.link)
}

// String reads "one-way cut on accounts-1 (upstream: requests dropped)".
func (f *OneWayCutFault) String() string {
	what := "answers dropped"
	if f.opts.stream == netfault.Upstream {
		what = "requests dropped"
	}
	return fmt.Sprintf("one-way cut on %s (%s: %s)", f.Target(), f.opts.stream, what)
}

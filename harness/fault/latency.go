package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// LatencyFault delays every chunk of data through a link: the "slow network" fault.
type LatencyFault struct {
	onLink
	latency time.Duration
}

var _ Fault = (*LatencyFault)(nil)

// Latency delays data through link by latency (±Jitter), downstream unless Stream says
// otherwise: fault.Latency(link, 200*time.Millisecond, fault.Jitter(20*time.Millisecond)).
func Latency(link *netfault.Link, latency time.Duration, opts ...ToxicOption) *LatencyFault {
	return &LatencyFault{onLink: newOnLink("latency", link, opts), latency: latency}
}

// Validate checks the parameters.
func (f *LatencyFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.latency < time.Millisecond {
		return badParam(f.kind, "latency", f.latency, "give a duration of at least 1ms (Toxiproxy counts whole milliseconds)")
	}
	if f.opts.jitter < 0 || f.opts.jitter > f.latency {
		return badParam(f.kind, "Jitter", f.opts.jitter, "give a duration between 0 and the latency")
	}
	return nil
}

// Inject adds the latency toxic.
func (f *LatencyFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "latency", map[string]any{"latency": ms(f.latency), "jitter": ms(f.opts.jitter)})
}

// Verify sees the toxic on the proxy and, when every connection is hit, a probe
// answered no sooner than most of the least delay.
func (f *LatencyFault) Verify(ctx context.Context) error {
	if err := f.listed(ctx); err != nil {
		return err
	}
	if !f.hitsEveryConnection() {
		return nil
	}
	least := f.latency - f.opts.jitter
	return expectSlow(ctx, f.link, least*8/10, f.latency+f.opts.jitter+probeTimeout)
}

// String reads "latency 200ms±20ms on accounts-1 (downstream)".
func (f *LatencyFault) String() string {
	d := f.latency.String()
	if f.opts.jitter > 0 {
		d += "±" + f.opts.jitter.String()
	}
	return fmt.Sprintf("latency %s %s", d, f.where())
}

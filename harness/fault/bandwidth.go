package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/netfault"
)

// BandwidthFault caps the rate of data through a link: the "congested link" fault.
type BandwidthFault struct {
	onLink
	kbPerSecond int64
}

var _ Fault = (*BandwidthFault)(nil)

// Bandwidth caps data through link at kbPerSecond kilobytes (1000 bytes) per second.
func Bandwidth(link *netfault.Link, kbPerSecond int64, opts ...ToxicOption) *BandwidthFault {
	return &BandwidthFault{onLink: newOnLink("bandwidth", link, opts), kbPerSecond: kbPerSecond}
}

// Validate checks the parameters.
func (f *BandwidthFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.kbPerSecond <= 0 {
		return badParam(f.kind, "kbPerSecond", f.kbPerSecond, "give a rate > 0 (at 0 nothing passes: use BlackHole for that)")
	}
	return nil
}

// Inject adds the bandwidth toxic.
func (f *BandwidthFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "bandwidth", map[string]any{"rate": f.kbPerSecond})
}

// Verify sees the toxic on the proxy (a probe's few bytes pass any cap unnoticed).
func (f *BandwidthFault) Verify(ctx context.Context) error { return f.listed(ctx) }

// String reads "bandwidth 10KB/s on accounts-1 (downstream)".
func (f *BandwidthFault) String() string {
	return fmt.Sprintf("bandwidth %dKB/s %s", f.kbPerSecond, f.where())
}

package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/netfault"
)

// BlackHoleFault lets connections through a link open but carries no data either way,
// for ever: callers hang until their own timeout, as behind a dropped route or a frozen
// peer. It is not Refuse: nothing fails fast.
type BlackHoleFault struct {
	onLink
}

var _ Fault = (*BlackHoleFault)(nil)

// BlackHole makes every connection through link hang, both ways.
func BlackHole(link *netfault.Link) *BlackHoleFault {
	return &BlackHoleFault{onLink: newOnLink("black hole", link, []ToxicOption{Stream(netfault.Both)})}
}

// Validate checks the parameters.
func (f *BlackHoleFault) Validate() error { return f.validate() }

// Inject adds a timeout toxic of 0 (never close) each way.
func (f *BlackHoleFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "timeout", map[string]any{"timeout": 0})
}

// Verify sees the toxics on the proxy and a probe that hangs (accepted, never answered).
func (f *BlackHoleFault) Verify(ctx context.Context) error {
	if err := f.listed(ctx); err != nil {
		return err
	}
	return expectHang(ctx, f.link)
}

// String reads "black hole on accounts-1 (both: connections hang)".
func (f *BlackHoleFault) String() string {
	return fmt.Sprintf("black hole on %s (both ways: connections hang)", f.Target())
}

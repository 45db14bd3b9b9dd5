package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// SlowCloseFault delays the close of connections through a link, so that peers which
// wait for the close (or pool connections) hang on to them.
type SlowCloseFault struct {
	onLink
	delay time.Duration
}

var _ Fault = (*SlowCloseFault)(nil)

// SlowClose delays each connection's close through link by delay.
func SlowClose(link *netfault.Link, delay time.Duration, opts ...ToxicOption) *SlowCloseFault {
	return &SlowCloseFault{onLink: newOnLink("slow_close", link, opts), delay: delay}
}

// Validate checks the parameters.
func (f *SlowCloseFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.delay < time.Millisecond {
		return badParam(f.kind, "delay", f.delay, "give a duration of at least 1ms")
	}
	return nil
}

// Inject adds the slow_close toxic.
func (f *SlowCloseFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "slow_close", map[string]any{"delay": ms(f.delay)})
}

// Verify sees the toxic on the proxy.
func (f *SlowCloseFault) Verify(ctx context.Context) error { return f.listed(ctx) }

// String reads "slow close 2s on accounts-1 (downstream)".
func (f *SlowCloseFault) String() string {
	return fmt.Sprintf("slow close %v %s", f.delay, f.where())
}

package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// TimeoutFault stops data through a link and closes each connection after a while: the
// peer sees a hang that ends in a close, as behind a dying load balancer.
type TimeoutFault struct {
	onLink
	after time.Duration
}

var _ Fault = (*TimeoutFault)(nil)

// Timeout stops data through link and closes each connection after the given time.
// For a hang that never ends, use BlackHole.
func Timeout(link *netfault.Link, after time.Duration, opts ...ToxicOption) *TimeoutFault {
	return &TimeoutFault{onLink: newOnLink("timeout", link, opts), after: after}
}

// Validate checks the parameters.
func (f *TimeoutFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.after < time.Millisecond {
		return badParam(f.kind, "after", f.after, "give a duration of at least 1ms; for a hang that never ends use BlackHole")
	}
	return nil
}

// Inject adds the timeout toxic.
func (f *TimeoutFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "timeout", map[string]any{"timeout": ms(f.after)})
}

// Verify sees the toxic on the proxy and, when every connection is hit, a probe that
// gets no answer.
func (f *TimeoutFault) Verify(ctx context.Context) error {
	if err := f.listed(ctx); err != nil || !f.hitsEveryConnection() {
		return err
	}
	return expectNoAnswer(ctx, f.link)
}

// String reads "timeout after 1s on accounts-1 (downstream)".
func (f *TimeoutFault) String() string {
	return fmt.Sprintf("timeout after %v %s", f.after, f.where())
}

package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// ResetPeerFault resets connections through a link (TCP RST): the peer sees "connection
// reset by peer", as when a process crashes mid-answer.
type ResetPeerFault struct {
	onLink
	after time.Duration
}

var _ Fault = (*ResetPeerFault)(nil)

// ResetPeer resets each connection through link after the given time (0: at once).
func ResetPeer(link *netfault.Link, after time.Duration, opts ...ToxicOption) *ResetPeerFault {
	return &ResetPeerFault{onLink: newOnLink("reset_peer", link, opts), after: after}
}

// Validate checks the parameters.
func (f *ResetPeerFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.after < 0 {
		return badParam(f.kind, "after", f.after, "give a duration >= 0 (0 resets at once)")
	}
	return nil
}

// Inject adds the reset_peer toxic.
func (f *ResetPeerFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "reset_peer", map[string]any{"timeout": ms(f.after)})
}

// Verify sees the toxic on the proxy and, when every connection is hit at once, a probe
// that gets no answer.
func (f *ResetPeerFault) Verify(ctx context.Context) error {
	if err := f.listed(ctx); err != nil || !f.hitsEveryConnection() || f.after >= probeTimeout/2 {
		return err
	}
	return expectNoAnswer(ctx, f.link)
}

// String reads "reset peer after 0s on accounts-1 (downstream)".
func (f *ResetPeerFault) String() string {
	return fmt.Sprintf("reset peer after %v %s", f.after, f.where())
}

package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/netfault"
)

// RefuseFault takes a link's proxy down: open connections close and new ones are
// refused, as when the peer's host is up but nothing listens. For a peer that hangs
// instead, use BlackHole.
type RefuseFault struct {
	link *netfault.Link
}

var _ Fault = (*RefuseFault)(nil)

// Refuse makes every connection through link fail at once, refused.
func Refuse(link *netfault.Link) *RefuseFault { return &RefuseFault{link: link} }

// Validate checks the parameters.
func (f *RefuseFault) Validate() error {
	if f.link == nil {
		return badParam("refuse", "link", nil, "pass the *netfault.Link of the path to cut; "+
			"a lookup such as Running.Link answers nil when it has no such name: check the name")
	}
	return nil
}

// Inject disables the proxy.
func (f *RefuseFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.link.Disable(ctx); err != nil {
		return fmt.Errorf("disable %s: %w", f.link.Name(), err)
	}
	return nil
}

// Heal enables the proxy again (harmless if it never went down).
func (f *RefuseFault) Heal(ctx context.Context) error {
	if err := f.link.Enable(ctx); err != nil {
		return fmt.Errorf("enable %s: %w", f.link.Name(), err)
	}
	return nil
}

// Verify sees the proxy disabled and a probe through it refused.
func (f *RefuseFault) Verify(ctx context.Context) error {
	if err := f.wantEnabled(ctx, false); err != nil {
		return err
	}
	return expectRefused(ctx, f.link)
}

// VerifyHealed sees the proxy enabled.
func (f *RefuseFault) VerifyHealed(ctx context.Context) error { return f.wantEnabled(ctx, true) }

func (f *RefuseFault) wantEnabled(ctx context.Context, want bool) error {
	on, err := f.link.Enabled(ctx)
	if err != nil {
		return fmt.Errorf("read state of %s: %w", f.link.Name(), err)
	}
	if on != want {
		return fmt.Errorf("proxy %s enabled=%t, want %t", f.link.Name(), on, want)
	}
	return nil
}

// Target is the link's name.
func (f *RefuseFault) Target() string {
	if f.link == nil {
		return ""
	}
	return f.link.Name()
}

// String reads "refuse connections on accounts-1 (proxy down)".
func (f *RefuseFault) String() string {
	return fmt.Sprintf("refuse connections on %s (proxy down)", f.Target())
}

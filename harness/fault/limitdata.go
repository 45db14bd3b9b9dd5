package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/netfault"
)

// LimitDataFault closes each connection through a link once it has carried a number of
// bytes: the peer sees a truncated message.
type LimitDataFault struct {
	onLink
	bytes int64
}

var _ Fault = (*LimitDataFault)(nil)

// LimitData closes each connection through link after bytes bytes.
func LimitData(link *netfault.Link, bytes int64, opts ...ToxicOption) *LimitDataFault {
	return &LimitDataFault{onLink: newOnLink("limit_data", link, opts), bytes: bytes}
}

// Validate checks the parameters.
func (f *LimitDataFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.bytes < 0 {
		return badParam(f.kind, "bytes", f.bytes, "give a number of bytes >= 0 (0 closes at once)")
	}
	return nil
}

// Inject adds the limit_data toxic.
func (f *LimitDataFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "limit_data", map[string]any{"bytes": f.bytes})
}

// Verify sees the toxic on the proxy.
func (f *LimitDataFault) Verify(ctx context.Context) error { return f.listed(ctx) }

// String reads "limit data to 100 bytes on accounts-1 (downstream)".
func (f *LimitDataFault) String() string {
	return fmt.Sprintf("limit data to %d bytes %s", f.bytes, f.where())
}

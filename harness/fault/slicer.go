package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// SlicerFault cuts data through a link into small pieces, each delayed: it finds
// parsers that assume a message arrives in one read.
type SlicerFault struct {
	onLink
	averageSize, sizeVariation int
	delay                      time.Duration
}

var _ Fault = (*SlicerFault)(nil)

// Slicer cuts data through link into pieces of averageSize±sizeVariation bytes, with
// delay between pieces.
func Slicer(link *netfault.Link, averageSize, sizeVariation int, delay time.Duration, opts ...ToxicOption) *SlicerFault {
	return &SlicerFault{onLink: newOnLink("slicer", link, opts), averageSize: averageSize, sizeVariation: sizeVariation, delay: delay}
}

// Validate checks the parameters.
func (f *SlicerFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.averageSize <= 0 {
		return badParam(f.kind, "averageSize", f.averageSize, "give a size in bytes > 0")
	}
	if f.sizeVariation < 0 || f.sizeVariation >= f.averageSize {
		return badParam(f.kind, "sizeVariation", f.sizeVariation, "give a number of bytes >= 0 and below averageSize")
	}
	if f.delay < 0 {
		return badParam(f.kind, "delay", f.delay, "give a duration >= 0")
	}
	return nil
}

// Inject adds the slicer toxic.
func (f *SlicerFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.add(ctx, "slicer", map[string]any{
		"average_size":   f.averageSize,
		"size_variation": f.sizeVariation,
		"delay":          f.delay.Microseconds(), // Toxiproxy's unit here
	})
}

// Verify sees the toxic on the proxy.
func (f *SlicerFault) Verify(ctx context.Context) error { return f.listed(ctx) }

// String reads "slice into 16±8 bytes every 1ms on accounts-1 (downstream)".
func (f *SlicerFault) String() string {
	return fmt.Sprintf("slice into %d±%d bytes every %v %s", f.averageSize, f.sizeVariation, f.delay, f.where())
}

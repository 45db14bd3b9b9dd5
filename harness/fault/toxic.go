package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// ToxicOption customises a network fault made of toxics: which way it acts and on what
// share of connections.
type ToxicOption func(*toxicOptions)

type toxicOptions struct {
	stream   netfault.Direction
	toxicity float64
	jitter   time.Duration
}

// Stream says which way the fault acts: netfault.Downstream (answers, toward the
// client; the default, as in Toxiproxy), netfault.Upstream (requests) or netfault.Both.
func Stream(d netfault.Direction) ToxicOption { return func(o *toxicOptions) { o.stream = d } }

// Toxicity is the share of connections the fault hits, in (0, 1] (default 1). Toxiproxy
// draws it per connection, not per request: with keep-alive, 0.5 hits whole connections.
func Toxicity(p float64) ToxicOption { return func(o *toxicOptions) { o.toxicity = p } }

// Jitter spreads a Latency fault's delay by up to ±d. It applies to Latency only.
func Jitter(d time.Duration) ToxicOption { return func(o *toxicOptions) { o.jitter = d } }

// onLink is the body every fault made of toxics on one link shares: it adds them,
// remembers exactly what it added, and removes exactly that. Kinds embed it and write
// only their parameters, String and Verify.
type onLink struct {
	kind string
	link *netfault.Link
	opts toxicOptions
	*added
}

// added is what a toxic fault put on its proxy.
type added struct {
	mu      sync.Mutex
	names   []string // toxics on the proxy now
	removed []string // toxics the heal removed, for VerifyHealed
}

// newOnLink applies opts over the defaults: downstream, every connection.
func newOnLink(kind string, link *netfault.Link, opts []ToxicOption) onLink {
	o := onLink{kind: kind, link: link, opts: toxicOptions{stream: netfault.Downstream, toxicity: 1}, added: &added{}}
	for _, opt := range opts {
		opt(&o.opts)
	}
	return o
}

// validate checks what every toxic fault shares.
func (o *onLink) validate() error {
	if o.link == nil {
		return badParam(o.kind, "link", nil, "pass the *netfault.Link of the path to fault (netfault.Manager.Create or Link); "+
			"a lookup such as Running.Link answers nil when it has no such name: check the name")
	}
	if !(o.opts.toxicity > 0 && o.opts.toxicity <= 1) {
		return badParam(o.kind, "Toxicity", o.opts.toxicity, "give a share of connections in (0, 1]; 1 hits every one (Toxiproxy treats 0 as never)")
	}
	switch o.opts.stream {
	case netfault.Upstream, netfault.Downstream, netfault.Both:
	default:
		return badParam(o.kind, "Stream", o.opts.stream, "give netfault.Upstream, netfault.Downstream or netfault.Both")
	}
	if o.opts.jitter != 0 && o.kind != "latency" {
		return badParam(o.kind, "Jitter", o.opts.jitter, "jitter applies to Latency only: drop the option")
	}
	return nil
}

// Target is the link's name.
func (o *onLink) Target() string {
	if o.link == nil {
		return ""
	}
	return o.link.Name()
}

// where says "on <link> (<stream>)" plus the share of connections when not all.
func (o *onLink) where() string {
	s := fmt.Sprintf("on %s (%s)", o.Target(), o.opts.stream)
	if o.opts.toxicity < 1 {
		s += fmt.Sprintf(", %g%% of connections", o.opts.toxicity*100)
	}
	return s
}

// add adds one toxic of typ per direction of the fault's stream (two for Both, each
// listed and removed by its own name).
func (o *onLink) add(ctx context.Context, typ string, attrs map[string]any) error {
	streams := []netfault.Direction{o.opts.stream}
	if o.opts.stream == netfault.Both {
		streams = []netfault.Direction{netfault.Upstream, netfault.Downstream}
	}
	for _, s := range streams {
		t := netfault.Toxic{
			// Unique per proxy, so that two faults of one kind can share a link.
			Name:       fmt.Sprintf("faultline_%s_%s_%08x", typ, s, rand.Uint32()),
			Type:       typ,
			Stream:     s,
			Toxicity:   o.opts.toxicity,
			Attributes: attrs,
		}
		name, err := o.link.AddToxic(ctx, t)
		if err != nil {
			return fmt.Errorf("add %s toxic (%s) to %s: %w", typ, s, o.link.Name(), err)
		}
		o.mu.Lock()
		o.names = append(o.names, name)
		o.mu.Unlock()
	}
	return nil
}

// Heal removes every toxic the fault added, the last first.
func (o *onLink) Heal(ctx context.Context) error {
	o.mu.Lock()
	names := slices.Clone(o.names)
	o.mu.Unlock()
	var errs []error
	for _, name := range slices.Backward(names) {
		if err := o.link.RemoveToxic(ctx, name); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove toxic %s from %s: %w", name, o.link.Name(), err))
			continue
		}
		o.mu.Lock()
		o.names = slices.DeleteFunc(o.names, func(n string) bool { return n == name })
		o.removed = append(o.removed, name)
		o.mu.Unlock()
	}
	return errors.Join(errs...)
}

// listed checks that the proxy holds every toxic the fault added.
func (o *onLink) listed(ctx context.Context) error {
	o.mu.Lock()
	want := slices.Clone(o.names)
	o.mu.Unlock()
	have, err := o.toxicNames(ctx)
	if err != nil {
		return err
	}
	for _, name := range want {
		if !slices.Contains(have, name) {
			return fmt.Errorf("toxic %s is not on %s (it has %s)", name, o.link.Name(), strings.Join(have, ", "))
		}
	}
	return nil
}

// VerifyHealed checks that the proxy holds none of the toxics the heal removed.
func (o *onLink) VerifyHealed(ctx context.Context) error {
	o.mu.Lock()
	gone := slices.Clone(o.removed)
	o.mu.Unlock()
	have, err := o.toxicNames(ctx)
	if err != nil {
		return err
	}
	for _, name := range gone {
		if slices.Contains(have, name) {
			return fmt.Errorf("toxic %s is still on %s", name, o.link.Name())
		}
	}
	return nil
}

func (o *onLink) toxicNames(ctx context.Context) ([]string, error) {
	ts, err := o.link.Toxics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list toxics of %s: %w", o.link.Name(), err)
	}
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		names = append(names, t.Name)
	}
	return names, nil
}

// hitsEveryConnection reports whether a probe is sure to meet the fault.
func (o *onLink) hitsEveryConnection() bool { return o.opts.toxicity >= 1 }

// isNotFound reports whether err says a toxic was already gone, which a heal accepts.
func isNotFound(err error) bool { return errors.Is(err, netfault.ErrNotFound) }

// ms is d in whole milliseconds, Toxiproxy's unit.
func ms(d time.Duration) int64 { return d.Milliseconds() }

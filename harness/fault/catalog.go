package fault

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/runtime"
)

// Targets is what a drawn fault may act on.
type Targets struct {
	// Links are proxied paths any network fault may act on (ingress, dependency, database).
	Links []*netfault.Link
	// HTTPLinks are proxied paths that carry HTTP, for the per-request HTTP faults.
	HTTPLinks []*netfault.Link
	// Instances are what process faults may act on.
	Instances []runtime.Instance
	// Peers are a cluster's directed peer links, for partitions.
	Peers map[[2]string]*netfault.Link
	// Holder, when set, keeps killed and stopped instances down for their step's window
	// (see HoldDown); without it a supervisor may bring them back at once.
	Holder Holder
}

// sorted returns a copy of t with every list in name order, so that a draw depends on
// the seed and the names only, never on the caller's order.
func (t Targets) sorted() Targets {
	byName := func(a, b *netfault.Link) int { return cmp.Compare(a.Name(), b.Name()) }
	t.Links = slices.SortedFunc(slices.Values(t.Links), byName)
	t.HTTPLinks = slices.SortedFunc(slices.Values(t.HTTPLinks), byName)
	t.Instances = slices.SortedFunc(slices.Values(t.Instances), func(a, b runtime.Instance) int {
		return cmp.Compare(a.Name(), b.Name())
	})
	return t
}

// Entry is one named kind of fault in a catalog.
type Entry struct {
	// Name is the kind's name in schedules and reports ("latency").
	Name string
	// Applies reports whether targets hold what the kind acts on.
	Applies func(t Targets) bool
	// Draw builds one fault of the kind, its target and parameters drawn from rng.
	Draw func(rng *rand.Rand, t Targets) Fault
}

// Catalog names the kinds of fault a random nemesis draws from. It is built explicitly,
// in NewCatalog, never by init side effects.
type Catalog struct {
	entries []Entry
}

// NewCatalog returns the catalog of every built-in network and process kind, with
// parameters in ranges that hurt without taking a whole run down.
func NewCatalog() *Catalog {
	c := &Catalog{}
	hasLinks := func(t Targets) bool { return len(t.Links) > 0 }
	hasHTTP := func(t Targets) bool { return len(t.HTTPLinks) > 0 }
	hasInstances := func(t Targets) bool { return len(t.Instances) > 0 }
	hasPeers := func(t Targets) bool { return len(t.Peers) > 0 }
	for _, e := range []Entry{
		{"latency", hasLinks, func(r *rand.Rand, t Targets) Fault {
			d := between(r, 50*time.Millisecond, 500*time.Millisecond)
			return Latency(pick(r, t.Links), d, Jitter((d / 10).Round(time.Millisecond)), Stream(pick(r, directions)))
		}},
		{"bandwidth", hasLinks, func(r *rand.Rand, t Targets) Fault {
			return Bandwidth(pick(r, t.Links), int64(1+r.IntN(64)))
		}},
		{"reset-peer", hasLinks, func(r *rand.Rand, t Targets) Fault {
			return ResetPeer(pick(r, t.Links), between(r, 0, 100*time.Millisecond))
		}},
		{"refuse", hasLinks, func(r *rand.Rand, t Targets) Fault { return Refuse(pick(r, t.Links)) }},
		{"black-hole", hasLinks, func(r *rand.Rand, t Targets) Fault { return BlackHole(pick(r, t.Links)) }},
		{"one-way-cut", hasLinks, func(r *rand.Rand, t Targets) Fault {
			return OneWayCut(pick(r, t.Links), pick(r, []netfault.Direction{netfault.Upstream, netfault.Downstream}))
		}},
		{"http-error", hasHTTP, func(r *rand.Rand, t Targets) Fault {
			return HTTPError(pick(r, t.HTTPLinks), pick(r, []int{500, 502, 503}), Fraction(pick(r, []float64{0.1, 0.3, 0.5})))
		}},
		{"kill", hasInstances, func(r *rand.Rand, t Targets) Fault { return Kill(pick(r, t.Instances), t.holdDown()...) }},
		{"stop", hasInstances, func(r *rand.Rand, t Targets) Fault {
			return Stop(pick(r, t.Instances), append(t.holdDown(), Grace(5*time.Second))...)
		}},
		{"pause", hasInstances, func(r *rand.Rand, t Targets) Fault { return Pause(pick(r, t.Instances)) }},
		{"restart", hasInstances, func(r *rand.Rand, t Targets) Fault { return Restart(pick(r, t.Instances), t.holdDown()...) }},
		{"partition", hasPeers, func(r *rand.Rand, t Targets) Fault {
			seed := r.Int64N(1000)
			recipes := []Recipe{MajorityMinority(seed)}
			if peerNodes(t.Peers) >= 3 { // a bridge and a ring need a third node
				recipes = append(recipes, Bridge(seed), Ring(seed))
			}
			return Partition(t.Peers, pick(r, recipes))
		}},
	} {
		c.entries = append(c.entries, e)
	}
	return c
}

var directions = []netfault.Direction{netfault.Upstream, netfault.Downstream, netfault.Both}

// peerNodes counts the nodes of a cluster's directed peer links.
func peerNodes(peers map[[2]string]*netfault.Link) int {
	nodes := map[string]bool{}
	for pair := range peers {
		nodes[pair[0]], nodes[pair[1]] = true, true
	}
	return len(nodes)
}

func (t Targets) holdDown() []ProcessOption {
	if t.Holder == nil {
		return nil
	}
	return []ProcessOption{HoldDown(t.Holder)}
}

// Register adds a kind; its name must be new.
func (c *Catalog) Register(e Entry) error {
	if e.Name == "" || e.Applies == nil || e.Draw == nil {
		return fmt.Errorf("register fault kind %q: give a Name, Applies and Draw", e.Name)
	}
	if slices.ContainsFunc(c.entries, func(x Entry) bool { return x.Name == e.Name }) {
		return fmt.Errorf("register fault kind %q: already in the catalog", e.Name)
	}
	c.entries = append(c.entries, e)
	return nil
}

// Names lists the kinds, in registration order.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.entries))
	for i, e := range c.entries {
		names[i] = e.Name
	}
	return names
}

// Only returns a catalog of the named kinds alone, for a nemesis that must stay gentle.
func (c *Catalog) Only(names ...string) (*Catalog, error) {
	out := &Catalog{}
	for _, n := range names {
		i := slices.IndexFunc(c.entries, func(e Entry) bool { return e.Name == n })
		if i < 0 {
			return nil, badParam("catalog", "kind", fmt.Sprintf("%q", n),
				fmt.Sprintf("no such kind in the catalog: use one of %s, or Register it first", strings.Join(c.Names(), ", ")))
		}
		out.entries = append(out.entries, c.entries[i])
	}
	return out, nil
}

// ErrNothingToDraw is returned when no kind of the catalog applies to the targets.
var ErrNothingToDraw = errors.New("no fault kind applies to these targets")

// Draw draws one fault: a kind among those that apply to targets, then its target and
// parameters. The same rng state and targets give the same fault.
func (c *Catalog) Draw(rng *rand.Rand, targets Targets) (kind string, f Fault, err error) {
	targets = targets.sorted()
	var fit []Entry
	for _, e := range c.entries {
		if e.Applies(targets) {
			fit = append(fit, e)
		}
	}
	if len(fit) == 0 {
		return "", nil, fmt.Errorf("draw a fault from %v: %w", c.Names(), ErrNothingToDraw)
	}
	e := pick(rng, fit)
	return e.Name, e.Draw(rng, targets), nil
}

// pick draws one element of s.
func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// between draws a duration in [lo, hi), rounded to the millisecond.
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return (lo + time.Duration(rng.Int64N(int64(hi-lo)))).Round(time.Millisecond)
}

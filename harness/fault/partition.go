package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/faultline/faultline/harness/netfault"
)

// PartitionFault cuts a cluster's directed peer links as a Recipe says, and leaves every
// other link alone. Each cut link becomes a black hole (connections hang, as when
// packets are dropped), or refuses connections with Refusing.
type PartitionFault struct {
	links   map[[2]string]*netfault.Link
	recipe  Recipe
	refuse  bool
	nodes   []string
	cuts    [][2]string
	planErr error

	mu    sync.Mutex
	parts []Fault // one per cut link, in cut order
}

var _ Fault = (*PartitionFault)(nil)

// PartitionOption customises a partition.
type PartitionOption func(*PartitionFault)

// Refusing makes the cut links refuse connections instead of hanging them.
func Refusing() PartitionOption { return func(p *PartitionFault) { p.refuse = true } }

// Partition cuts links (from, to) → link, the links by which node from calls node to, as
// recipe says: fault.Partition(peers, fault.IsolateOne("accounts-1")).
func Partition(links map[[2]string]*netfault.Link, recipe Recipe, opts ...PartitionOption) *PartitionFault {
	p := &PartitionFault{links: links, recipe: recipe}
	for _, o := range opts {
		o(p)
	}
	p.planErr = p.plan()
	return p
}

// plan computes the nodes and the links to cut.
func (p *PartitionFault) plan() error {
	if len(p.links) == 0 {
		return badParam("partition", "links", "empty", "pass the cluster's peer links, keyed by (from, to)")
	}
	if p.recipe == nil {
		return badParam("partition", "recipe", nil, "pass a recipe: IsolateOne, MajorityMinority, Bridge or Ring")
	}
	for key, l := range p.links {
		if l == nil {
			return badParam("partition", fmt.Sprintf("links[%s→%s]", key[0], key[1]), nil, "give every pair a *netfault.Link, or leave the pair out")
		}
		p.nodes = append(p.nodes, key[0], key[1])
	}
	slices.Sort(p.nodes)
	p.nodes = slices.Compact(p.nodes)
	g, err := p.recipe.Grudge(p.nodes)
	if err != nil {
		return badParam("partition", "recipe", p.recipe, err.Error())
	}
	for _, c := range g.Cuts() {
		if _, ok := p.links[c]; ok { // no link, no traffic to cut
			p.cuts = append(p.cuts, c)
		}
	}
	return nil
}

// Cuts lists the directed links the partition cuts, sorted.
func (p *PartitionFault) Cuts() [][2]string { return slices.Clone(p.cuts) }

// Validate checks the parameters and the recipe's fit to the nodes.
func (p *PartitionFault) Validate() error { return p.planErr }

// Inject cuts each link of the plan.
func (p *PartitionFault) Inject(ctx context.Context) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for _, c := range p.cuts {
		var f Fault = BlackHole(p.links[c])
		if p.refuse {
			f = Refuse(p.links[c])
		}
		p.mu.Lock()
		p.parts = append(p.parts, f)
		p.mu.Unlock()
		if err := f.Inject(ctx); err != nil {
			return fmt.Errorf("cut %s→%s: %w", c[0], c[1], err)
		}
	}
	return nil
}

// Heal heals every cut link, the last first.
func (p *PartitionFault) Heal(ctx context.Context) error {
	var errs []error
	for _, f := range slices.Backward(p.partsNow()) {
		errs = append(errs, f.Heal(ctx))
	}
	return errors.Join(errs...)
}

// Verify sees every cut link act, probing them all at once.
func (p *PartitionFault) Verify(ctx context.Context) error {
	return p.each(func(f Fault) error { return f.(Verifier).Verify(ctx) })
}

// VerifyHealed sees every cut link healed.
func (p *PartitionFault) VerifyHealed(ctx context.Context) error {
	return p.each(func(f Fault) error {
		if v, ok := f.(HealVerifier); ok {
			return v.VerifyHealed(ctx)
		}
		return nil
	})
}

func (p *PartitionFault) partsNow() []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.parts)
}

// each runs check on every part concurrently and joins the errors.
func (p *PartitionFault) each(check func(Fault) error) error {
	parts := p.partsNow()
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, f := range parts {
		wg.Go(func() { errs[i] = check(f) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Target is the cluster's nodes.
func (p *PartitionFault) Target() string { return strings.Join(p.nodes, ",") }

// String reads "partition isolate c of a,b,c: cuts a→c, b→c, c→a, c→b (black hole)".
func (p *PartitionFault) String() string {
	how := "black hole"
	if p.refuse {
		how = "refused"
	}
	cuts := make([]string, len(p.cuts))
	for i, c := range p.cuts {
		cuts[i] = c[0] + "→" + c[1]
	}
	return fmt.Sprintf("partition %v of %s: cuts %s (%s)", p.recipe, p.Target(), strings.Join(cuts, ", "), how)
}

// DependencyPartitionFault cuts one instance off one service it depends on and nothing
// else: a black hole on the instance's own link to that service (Instance.LinkTo), so
// that its calls there hang while every caller still reaches it — an instance cut off
// its registry, its broker, its cache.
type DependencyPartitionFault struct {
	*BlackHoleFault
	dependency string
}

var _ Fault = (*DependencyPartitionFault)(nil)

// PartitionFromDependency cuts the instance whose own link to the service called
// dependency this is off that service. Its kind in a history is "<dependency>
// partition" ("registry partition").
func PartitionFromDependency(link *netfault.Link, dependency string) *DependencyPartitionFault {
	f := &DependencyPartitionFault{BlackHoleFault: BlackHole(link), dependency: dependency}
	f.kind = dependency + " partition"
	return f
}

// String reads "partition accounts-1.registry from the registry (black hole)".
func (f *DependencyPartitionFault) String() string {
	return fmt.Sprintf("partition %s from the %s (black hole)", f.Target(), f.dependency)
}

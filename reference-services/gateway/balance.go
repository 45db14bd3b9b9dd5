package gateway

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/faultline/faultline/reference-services/discovery"
)

// member is one instance as the balancer knows it, with its own breaker (nil when
// breakers are off). It is immutable once made.
type member struct {
	inst    discovery.Instance
	breaker circuitbreaker.CircuitBreaker[*answer]
}

// pool is the balancer's view of one service: a round robin cursor and the members
// seen in the last instance list, keyed by instance id.
type pool struct {
	next    atomic.Uint64
	mu      sync.Mutex
	members map[string]*member
}

// balancer keeps one pool per service. Members (and so breakers) live as long as their
// instance is in the registry's list; an instance that leaves and comes back starts with
// a closed breaker.
type balancer struct {
	newBreaker func(service, id string) circuitbreaker.CircuitBreaker[*answer]
	forget     func(service, id string)

	mu    sync.Mutex
	pools map[string]*pool
}

func newBalancer(newBreaker func(service, id string) circuitbreaker.CircuitBreaker[*answer], forget func(service, id string)) *balancer {
	return &balancer{newBreaker: newBreaker, forget: forget, pools: map[string]*pool{}}
}

// members brings service's pool in line with list and returns the pool and its members
// in a stable order (by instance id), which round robin walks.
func (b *balancer) members(service string, list []discovery.Instance) (*pool, []*member) {
	b.mu.Lock()
	p, ok := b.pools[service]
	if !ok {
		p = &pool{members: map[string]*member{}}
		b.pools[service] = p
	}
	b.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*member, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, inst := range list {
		if inst.ID == "" || seen[inst.ID] {
			continue
		}
		seen[inst.ID] = true
		// Members are never changed in place: calls in flight read them unlocked.
		m, ok := p.members[inst.ID]
		switch {
		case !ok || m.inst.Address != inst.Address:
			m = &member{inst: inst, breaker: b.newBreaker(service, inst.ID)}
			p.members[inst.ID] = m
		case !maps.Equal(m.inst.Meta, inst.Meta) || m.inst.Service != inst.Service:
			m = &member{inst: inst, breaker: m.breaker}
			p.members[inst.ID] = m
		}
		out = append(out, m)
	}
	for id := range p.members {
		if !seen[id] {
			delete(p.members, id)
			b.forget(service, id)
		}
	}
	slices.SortFunc(out, func(a, b *member) int { return strings.Compare(a.inst.ID, b.inst.ID) })
	return p, out
}

// pick returns the next member in round robin order whose breaker is not open, leaving
// out those in skip. It prefers a member not in tried, so that a retry lands on another
// instance when one exists, and falls back to a tried one otherwise. It returns nil when
// no member can take the call.
func (p *pool) pick(order []*member, tried, skip map[string]bool) *member {
	n := len(order)
	if n == 0 {
		return nil
	}
	start := int((p.next.Add(1) - 1) % uint64(n))
	var fallback *member
	for i := range n {
		m := order[(start+i)%n]
		if skip[m.inst.ID] || breakerOpen(m.breaker) {
			continue
		}
		if !tried[m.inst.ID] {
			return m
		}
		if fallback == nil {
			fallback = m
		}
	}
	return fallback
}

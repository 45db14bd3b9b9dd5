package fault

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Grudge says, for each node, the nodes it no longer hears from: Jepsen's nemesis
// grudge. Over directed peer links, the link from→to is cut when from is in grudge[to].
type Grudge map[string][]string

// Cuts lists the directed links (from, to) the grudge cuts, sorted.
func (g Grudge) Cuts() [][2]string {
	var out [][2]string
	for to, froms := range g {
		for _, from := range froms {
			out = append(out, [2]string{from, to})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return slices.Compact(out)
}

// Recipe computes a grudge over a cluster's nodes; the same nodes always give the same
// grudge.
type Recipe interface {
	// Grudge computes the grudge over nodes (sorted, no repeats).
	Grudge(nodes []string) (Grudge, error)
	// String names the recipe: "isolate accounts-1", "ring (seed 7)".
	String() string
}

// recipe is a Recipe made of a name and a function.
type recipe struct {
	name     string
	minNodes int
	grudge   func(nodes []string) (Grudge, error)
}

// String is the recipe's name.
func (r recipe) String() string { return r.name }

// Grudge checks there are enough nodes, then computes the grudge.
func (r recipe) Grudge(nodes []string) (Grudge, error) {
	if len(nodes) < r.minNodes {
		return nil, fmt.Errorf("%s needs at least %d nodes, got %d (%s)", r.name, r.minNodes, len(nodes), strings.Join(nodes, ", "))
	}
	return r.grudge(nodes)
}

// IsolateOne cuts node off from every other node, both ways.
func IsolateOne(node string) Recipe {
	return recipe{name: "isolate " + node, minNodes: 2, grudge: func(nodes []string) (Grudge, error) {
		if !slices.Contains(nodes, node) {
			return nil, fmt.Errorf("isolate %s: no such node among %s", node, strings.Join(nodes, ", "))
		}
		rest := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == node })
		return complete([][]string{{node}, rest}), nil
	}}
}

// MajorityMinority splits the nodes, shuffled by seed, into a minority (n/2 rounded
// down) and a majority, and cuts every link between the two, both ways.
func MajorityMinority(seed int64) Recipe {
	return recipe{name: fmt.Sprintf("majority/minority (seed %d)", seed), minNodes: 2, grudge: func(nodes []string) (Grudge, error) {
		s := shuffled(nodes, seed)
		return complete([][]string{s[:len(s)/2], s[len(s)/2:]}), nil
	}}
}

// Bridge cuts the nodes, shuffled by seed, into two halves that cannot reach each other,
// but keeps one node (the bridge) that reaches both: Jepsen's bridge partition.
func Bridge(seed int64) Recipe {
	return recipe{name: fmt.Sprintf("bridge (seed %d)", seed), minNodes: 3, grudge: func(nodes []string) (Grudge, error) {
		s := shuffled(nodes, seed)
		left, right := s[:len(s)/2], s[len(s)/2:]
		bridge := right[0]
		g := complete([][]string{left, right})
		delete(g, bridge)
		for to, froms := range g {
			g[to] = slices.DeleteFunc(froms, func(n string) bool { return n == bridge })
		}
		return g, nil
	}}
}

// Ring puts the nodes, shuffled by seed, on a ring where each node hears only from the
// majority of nodes around it: every node sees a majority, but no two see the same one
// (Jepsen's majorities ring). With an even majority the grudge is one-way on some links.
func Ring(seed int64) Recipe {
	return recipe{name: fmt.Sprintf("majorities ring (seed %d)", seed), minNodes: 3, grudge: func(nodes []string) (Grudge, error) {
		s := shuffled(nodes, seed)
		n := len(s)
		m := n/2 + 1
		g := Grudge{}
		for i := range n {
			window := make([]string, m)
			for j := range m {
				window[j] = s[(i+j)%n]
			}
			center := window[m/2]
			for _, other := range s {
				if !slices.Contains(window, other) {
					g[center] = append(g[center], other)
				}
			}
		}
		return g, nil
	}}
}

// complete is the grudge in which every node hears only from its own component.
func complete(components [][]string) Grudge {
	g := Grudge{}
	for i, c := range components {
		for j, other := range components {
			if i == j {
				continue
			}
			for _, to := range c {
				g[to] = append(g[to], other...)
			}
		}
	}
	return g
}

// shuffled is nodes in an order drawn from seed.
func shuffled(nodes []string, seed int64) []string {
	s := slices.Clone(nodes)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

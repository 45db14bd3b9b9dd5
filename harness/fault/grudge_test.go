package fault_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/faultline/faultline/harness/fault"
)

var five = []string{"n1", "n2", "n3", "n4", "n5"}

// reach is who hears from whom under a grudge: reach[to][from].
func reach(nodes []string, g fault.Grudge) map[string]map[string]bool {
	r := map[string]map[string]bool{}
	for _, to := range nodes {
		r[to] = map[string]bool{}
		for _, from := range nodes {
			r[to][from] = !slices.Contains(g[to], from)
		}
	}
	return r
}

func TestIsolateOneCutsExactlyTheNodesLinksBothWays(t *testing.T) {
	g, err := fault.IsolateOne("n3").Grudge(five)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"n1", "n3"}, {"n2", "n3"}, {"n3", "n1"}, {"n3", "n2"}, {"n3", "n4"}, {"n3", "n5"}, {"n4", "n3"}, {"n5", "n3"},
	}
	if got := g.Cuts(); !slices.Equal(got, want) {
		t.Errorf("cuts = %v, want %v", got, want)
	}
	if _, err := fault.IsolateOne("n9").Grudge(five); err == nil {
		t.Error("isolating a node that is not in the cluster did not fail")
	}
}

// components splits nodes into groups that hear each other, assuming a symmetric grudge.
func components(nodes []string, g fault.Grudge) [][]string {
	r := reach(nodes, g)
	var out [][]string
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n] {
			continue
		}
		var c []string
		for _, m := range nodes {
			if r[n][m] {
				c = append(c, m)
				seen[m] = true
			}
		}
		out = append(out, c)
	}
	return out
}

func TestMajorityMinoritySplitsIntoTwoSidesThatNeverMeet(t *testing.T) {
	for seed := range int64(20) {
		g, err := fault.MajorityMinority(seed).Grudge(five)
		if err != nil {
			t.Fatal(err)
		}
		cs := components(five, g)
		sizes := []int{len(cs[0]), len(cs[1])}
		slices.Sort(sizes)
		if len(cs) != 2 || !slices.Equal(sizes, []int{2, 3}) {
			t.Fatalf("seed %d: components %v, want a side of 2 and one of 3", seed, cs)
		}
		if n := len(g.Cuts()); n != 2*2*3 {
			t.Errorf("seed %d: %d cuts, want 12 (every link across, both ways)", seed, n)
		}
	}
}

func TestBridgeKeepsOneNodeReachingBothHalves(t *testing.T) {
	for seed := range int64(20) {
		g, err := fault.Bridge(seed).Grudge(five)
		if err != nil {
			t.Fatal(err)
		}
		r := reach(five, g)
		var bridges []string
		for _, n := range five {
			all := true
			for _, m := range five {
				all = all && r[n][m] && r[m][n]
			}
			if all {
				bridges = append(bridges, n)
			}
		}
		if len(bridges) != 1 {
			t.Fatalf("seed %d: nodes reaching everyone: %v, want exactly one bridge", seed, bridges)
		}
		// Without the bridge, the rest splits 2 and 2 with every link across cut.
		rest := slices.DeleteFunc(slices.Clone(five), func(n string) bool { return n == bridges[0] })
		if cs := components(rest, g); len(cs) != 2 || len(cs[0]) != 2 || len(cs[1]) != 2 {
			t.Errorf("seed %d: without bridge %s the rest is %v, want two halves of 2", seed, bridges[0], cs)
		}
		if n := len(g.Cuts()); n != 8 {
			t.Errorf("seed %d: %d cuts, want 8", seed, n)
		}
	}
}

func TestRingGivesEveryNodeItsOwnMajority(t *testing.T) {
	for _, n := range []int{3, 5, 6, 7} {
		nodes := make([]string, n)
		for i := range nodes {
			nodes[i] = fmt.Sprintf("n%d", i+1)
		}
		for seed := range int64(10) {
			g, err := fault.Ring(seed).Grudge(nodes)
			if err != nil {
				t.Fatal(err)
			}
			r := reach(nodes, g)
			views := map[string]string{}
			for _, to := range nodes {
				var view []string
				for _, from := range nodes {
					if r[to][from] {
						view = append(view, from)
					}
				}
				if len(view) != n/2+1 {
					t.Fatalf("n=%d seed %d: %s hears from %v, want a bare majority of %d", n, seed, to, view, n/2+1)
				}
				key := fmt.Sprint(view)
				if other, ok := views[key]; ok {
					t.Fatalf("n=%d seed %d: %s and %s hear the same majority %v", n, seed, to, other, view)
				}
				views[key] = to
			}
		}
	}
}

func TestRecipesAreReproducibleFromTheirSeed(t *testing.T) {
	for _, mk := range []func(int64) fault.Recipe{fault.MajorityMinority, fault.Bridge, fault.Ring} {
		a, _ := mk(42).Grudge(five)
		b, _ := mk(42).Grudge(five)
		if !slices.Equal(a.Cuts(), b.Cuts()) {
			t.Errorf("%v: two draws from seed 42 differ", mk(42))
		}
		differ := false
		for seed := range int64(10) {
			c, _ := mk(seed).Grudge(five)
			differ = differ || !slices.Equal(a.Cuts(), c.Cuts())
		}
		if !differ {
			t.Errorf("%v: ten seeds all give the same partition", mk(42))
		}
	}
}

func TestRecipesNeedEnoughNodes(t *testing.T) {
	for _, r := range []fault.Recipe{fault.Bridge(1), fault.Ring(1)} {
		if _, err := r.Grudge([]string{"a", "b"}); err == nil {
			t.Errorf("%v over 2 nodes did not fail", r)
		}
	}
}

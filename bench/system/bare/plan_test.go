package bare

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness/reference"
)

func names(ps []Proc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func TestPlanOfTheReferenceSystem(t *testing.T) {
	plan, err := NewPlan(reference.System())
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"accounts-db", "inventory-db", "orders-db", "registry-1"},
		{"accounts-1", "accounts-2", "gateway-1", "inventory-1", "inventory-2", "orders-1"},
	}
	if len(plan.Levels) != len(want) {
		t.Fatalf("levels = %d, want %d: %+v", len(plan.Levels), len(want), plan.Levels)
	}
	for i, w := range want {
		if got := names(plan.Levels[i]); !slices.Equal(got, w) {
			t.Errorf("level %d = %v, want %v", i, got, w)
		}
	}
	if got := plan.Registered["accounts"]; !slices.Equal(got, []string{"accounts-1", "accounts-2"}) {
		t.Errorf("accounts registered = %v", got)
	}
	if _, ok := plan.Registered["gateway"]; ok {
		t.Error("the gateway does not register, yet the plan waits for it")
	}
	var a2 Proc
	for _, p := range plan.Levels[1] {
		if p.Name == "accounts-2" {
			a2 = p
		}
	}
	for k, v := range map[string]string{
		"REGISTRY_ADDR": addrOf("registry-1"), "ETCD_ENDPOINTS": addrOf("accounts-db"),
		"ADVERTISE_ADDR": "{{netaddr}}", "LISTEN_ADDR": "{{listen}}", "INSTANCE_ID": "accounts-2",
	} {
		if a2.Env[k] != v {
			t.Errorf("accounts-2 %s = %q, want %q", k, a2.Env[k], v)
		}
	}
}

func TestResolve(t *testing.T) {
	own := strings.NewReplacer("{{listen}}", "0.0.0.0:8080")
	got := resolve("l={{listen}} r={{addr:registry-1}} d={{addr:accounts-db}}", own,
		func(n string) string { return n + ":1" })
	if want := "l=0.0.0.0:8080 r=registry-1:1 d=accounts-db:1"; got != want {
		t.Errorf("resolve = %q, want %q", got, want)
	}
}

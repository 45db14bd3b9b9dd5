package bare

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness/reference"
)

func TestPlanOfTheReferenceSystem(t *testing.T) {
	plan, err := NewPlan(reference.System())
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	needs := map[string][]string{}
	for _, p := range plan.Procs {
		all = append(all, p.Name)
		needs[p.Name] = p.Needs
	}
	want := []string{"registry-1", "accounts-db", "accounts-1", "accounts-2", "inventory-db", "inventory-1", "inventory-2",
		"orders-db", "orders-1", "gateway-1"}
	if !slices.Equal(all, want) {
		t.Errorf("processes = %v, want %v", all, want)
	}
	for name, w := range map[string][]string{
		"registry-1": nil, "accounts-db": nil, "accounts-2": {"registry-1", "accounts-db"},
		"orders-1": {"registry-1", "orders-db"}, "gateway-1": {"registry-1"},
	} {
		if !slices.Equal(needs[name], w) {
			t.Errorf("%s needs %v, want %v", name, needs[name], w)
		}
	}
	if got := plan.Registered["accounts"]; !slices.Equal(got, []string{"accounts-1", "accounts-2"}) {
		t.Errorf("accounts registered = %v", got)
	}
	if _, ok := plan.Registered["gateway"]; ok {
		t.Error("the gateway does not register, yet the plan waits for it")
	}
	var a2, db Proc
	for _, p := range plan.Procs {
		switch p.Name {
		case "accounts-2":
			a2 = p
		case "accounts-db":
			db = p
		}
	}
	// The database starts as the harness plans it: the etcd module's arguments, expanded.
	hp, err := reference.System().Plan()
	if err != nil {
		t.Fatal(err)
	}
	planned, _ := hp.Instance("accounts-db")
	if !slices.Equal(db.Args, planned.Args) || db.Port != 2379 || db.Health != "/health" || !slices.Contains(db.Args, "accounts-db") {
		t.Errorf("accounts-db = %+v, want the harness's planned args %v on 2379 with /health", db, planned.Args)
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

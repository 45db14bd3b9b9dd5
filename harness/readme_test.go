package harness_test

import (
	"os"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness"
)

// TestTheREADMEShopDeclarationLoads keeps the README's declaration of a user's own
// system ("name: shop") a declaration the harness takes: loaded strictly and planned.
func TestTheREADMEShopDeclarationLoads(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const open = "```yaml\nname: shop\n"
	_, rest, ok := strings.Cut(string(readme), open)
	if !ok {
		t.Fatalf("README.md has no block beginning %q", open)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md's shop block is not closed")
	}
	sys, err := harness.Load(strings.NewReader("name: shop\n"+block), "README.md")
	if err != nil {
		t.Fatalf("README.md's shop declaration: %v", err)
	}
	p, err := sys.Plan()
	if err != nil {
		t.Fatalf("plan README.md's shop: %v", err)
	}
	if _, ok := p.Link("cart-db"); !ok {
		t.Errorf("the shop's plan has no link cart-db to cart's database:\n%s", p)
	}
	if _, ok := p.Link("cart-1.pricing"); !ok {
		t.Errorf("the shop's plan has no link cart-1.pricing:\n%s", p)
	}
}

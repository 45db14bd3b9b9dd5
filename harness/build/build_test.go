package build_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness/build"
)

func TestName(t *testing.T) {
	for pkg, want := range map[string]string{
		"github.com/faultline/faultline/reference-services/cmd/accounts": "accounts",
		"go.etcd.io/etcd/server/v3":                                      "etcd",
		"example.com/thing/v2":                                           "thing",
	} {
		if got := build.Name(pkg); got != want {
			t.Errorf("Name(%q) = %q, want %q", pkg, got, want)
		}
	}
}

func TestPackageBuildsAStaticBinaryOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary: skipped under -short")
	}
	b := build.New(build.WithDir(t.TempDir()), build.WithPrebuilt(""))
	ctx := context.Background()
	p, err := b.Package(ctx, "github.com/faultline/faultline/harness/build/testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p).Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("ran %s: %q, %v", p, out, err)
	}
	st1, _ := os.Stat(p)
	p2, err := b.Package(ctx, "github.com/faultline/faultline/harness/build/testdata/hello")
	st2, _ := os.Stat(p2)
	if err != nil || p2 != p || !st1.ModTime().Equal(st2.ModTime()) {
		t.Fatalf("second call rebuilt or moved the binary: %s %v", p2, err)
	}
	if _, err := b.Package(ctx, "github.com/faultline/faultline/no/such/pkg"); err == nil || !strings.Contains(err.Error(), "no/such/pkg") {
		t.Fatalf("a missing package gave %v", err)
	}
}

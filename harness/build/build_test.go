package build_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness/build"
)

func TestName(t *testing.T) {
	for pkg, want := range map[string]string{
		"github.com/faultline/faultline/reference-services/cmd/accounts": "accounts",
		"go.etcd.io/etcd/server/v3":                                      "server",
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
	var logs strings.Builder
	b := build.New(build.WithDir(t.TempDir()), build.WithPrebuilt(""), build.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	p, err := b.Package(ctx, "github.com/faultline/faultline/harness/build/testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	// A bring-up that compiles says so, and how long it took.
	for _, want := range []string{`msg="building Go package" package=github.com/faultline/faultline/harness/build/testdata/hello`, `msg="built Go package"`, "took="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
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

// TestPackagesWhoseBinariesShareANameKeepTheirOwn: two packages named hello build to two
// binaries, each running its own code, however often and in whichever order they are
// asked for.
func TestPackagesWhoseBinariesShareANameKeepTheirOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries: skipped under -short")
	}
	dir := t.TempDir()
	ctx := context.Background()
	want := map[string]string{
		"github.com/faultline/faultline/harness/build/testdata/hello":       "hello",
		"github.com/faultline/faultline/harness/build/testdata/other/hello": "another hello",
	}
	// Two builders on one directory, as two processes of one run would be.
	for _, b := range []*build.Builder{build.New(build.WithDir(dir), build.WithPrebuilt("")), build.New(build.WithDir(dir), build.WithPrebuilt(""))} {
		paths := map[string]string{}
		for pkg := range want {
			p, err := b.Package(ctx, pkg)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(p) != "hello" {
				t.Errorf("%s built as %s: the binary must keep its name", pkg, p)
			}
			paths[pkg] = p
		}
		for pkg, p := range paths {
			out, err := exec.Command(p).Output()
			if err != nil || strings.TrimSpace(string(out)) != want[pkg] {
				t.Errorf("%s's binary %s says %q (%v), want %q", pkg, p, out, err, want[pkg])
			}
		}
	}
}

// TestAPrebuiltBinaryIsTakenOnlyForItsOwnPackage: a prebuilt directory's hello, built
// from testdata/other/hello, is not testdata/hello's binary, whatever its name; its own
// package's is taken as it is.
func TestAPrebuiltBinaryIsTakenOnlyForItsOwnPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries: skipped under -short")
	}
	ctx := context.Background()
	const pkg, other = "github.com/faultline/faultline/harness/build/testdata/hello", "github.com/faultline/faultline/harness/build/testdata/other/hello"
	prebuilt := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(prebuilt, "hello"), other)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", other, err, out)
	}
	b := build.New(build.WithDir(t.TempDir()), build.WithPrebuilt(prebuilt))
	p, err := b.Package(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(p).Output(); strings.TrimSpace(string(out)) != "hello" || filepath.Dir(p) == prebuilt {
		t.Errorf("%s ran %s, which says %q: the prebuilt hello is another package's", pkg, p, out)
	}
	if p, err := b.Package(ctx, other); err != nil || p != filepath.Join(prebuilt, "hello") {
		t.Errorf("%s gave %s (%v), want its prebuilt binary", other, p, err)
	}
	// A stand-in with no Go build information (a script) is taken by its name.
	script := filepath.Join(prebuilt, "server")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Package(ctx, "example.com/server/v3"); err != nil || p != script {
		t.Errorf("a prebuilt stand-in for example.com/server/v3 gave %s (%v), want %s", p, err, script)
	}
}

// A Go binary its maker built under a name of their own (make's bin/etcd for etcd's
// go.etcd.io/etcd/server/v3) is found by its build information.
func TestPrebuiltFoundByBuildInfoUnderAnyName(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary: skipped under -short")
	}
	const pkg = "github.com/faultline/faultline/harness/build/testdata/hello"
	prebuilt := t.TempDir()
	want := filepath.Join(prebuilt, "greeter")
	cmd := exec.Command("go", "build", "-o", want, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	// A script beside it, with no build information, is passed over.
	if err := os.WriteFile(filepath.Join(prebuilt, "aaa"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := build.New(build.WithDir(dir), build.WithPrebuilt(prebuilt)).Package(context.Background(), pkg)
	if err != nil || p != want {
		t.Errorf("Package(%s) = %s (%v), want the prebuilt %s", pkg, p, err, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the cache holds %d entries: it built what was prebuilt", len(entries))
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness/report"
	"github.com/faultline/faultline/harness/runtime/conformance"
)

// userTest is a user's experiment in a module of its own: the test service behind its
// link, slowed, must still answer.
const userTest = `package user_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/runtime/local"
)

func TestMain(m *testing.M) { os.Exit(experiment.Main(m)) }

func TestItAnswersWhenSlowed(t *testing.T) {
	ctx := t.Context()
	rt, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sys, err := harness.Up(ctx, harness.System{Name: "user", Services: []harness.Service{{
		Name: "svc", Source: harness.Source{Binary: os.Getenv("TESTSVC")}, Env: map[string]string{"DATA_DIR": "{{datadir}}"},
	}}}, harness.WithRuntime(rt), harness.WithSeed(experiment.Seed(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	url, _ := sys.Instance("svc-1").URL(ctx)
	answers := check.Hypothesis{Name: "svc answers", Probes: []check.Probe{{Name: "healthz", Run: func(ctx context.Context) error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("answered %d", resp.StatusCode)
		}
		return nil
	}}}}
	e := experiment.Start(ctx, t, sys, experiment.Config{Hypothesis: "svc answers while its link is slow", Steady: answers})
	slow := e.Apply(ctx, fault.Latency(sys.Instance("svc-1").Ingress, 50*time.Millisecond))
	e.Check(answers.Verify(ctx, "during"))
	e.Heal(ctx, slow)
}
`

// TestRunWorksInAUsersOwnModule puts a user's module (its own go.mod, faultline
// through a replace) in a temporary directory and runs `faultline run` there: the
// module's experiment runs, its report is written into the module's reports/latest,
// and the exit status says how it went; `faultline list` lists it; a run that records
// no experiment says how to write one, and fails.
func TestRunWorksInAUsersOwnModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a module's tests: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	t.Setenv("TESTSVC", art.Binary)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/user\n\ngo 1.26\n\nrequire github.com/faultline/faultline v0.0.0\n\nreplace github.com/faultline/faultline => "+repo+"\n")
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("user_test.go", userTest)
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = mod
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	t.Chdir(mod)

	code, stdout, stderr := capture(t, "run", "-runtime", "local")
	if code != 0 {
		t.Fatalf("faultline run in a user's module: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"go test " + filepath.Join(mod, "...") + " -count=1", "▶ TestItAnswersWhenSlowed", "✔ passed  TestItAnswersWhenSlowed", "report: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the run's output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "-ginkgo.") {
		t.Errorf("Ginkgo flags given to a module's plain tests:\n%s", stdout)
	}
	latest := filepath.Join(mod, "reports", "latest")
	run, _, err := report.Load(latest)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scenarios) != 1 || run.Scenarios[0].Hypothesis != "svc answers while its link is slow" || run.Scenarios[0].Verdict != report.Pass {
		t.Fatalf("the report holds %+v, want the one passed experiment", run.Scenarios)
	}
	for _, f := range []string{report.HTMLFile, report.MarkdownFile, report.JSONFile, report.JUnitFile, "run.log"} {
		if _, err := os.Stat(filepath.Join(latest, f)); err != nil {
			t.Errorf("the report lacks %s: %v", f, err)
		}
	}

	code, stdout, stderr = capture(t, "list")
	if code != 0 || !strings.Contains(stdout, "example.com/user: TestItAnswersWhenSlowed\n") || !strings.Contains(stdout, "1 experiment(s)") {
		t.Errorf("faultline list in a user's module: exit %d\n%s\n%s", code, stdout, stderr)
	}

	code, _, stderr = capture(t, "run", "-runtime", "local", "./...", "--", "-run", "TestNothing")
	if code == 0 || !strings.Contains(stderr, "no experiment was recorded") || !strings.Contains(stderr, "experiment.Main") {
		t.Fatalf("a run that records no experiment: exit %d, %s", code, stderr)
	}
}

// Package moduletest brings up one module's server, alone in a system on the local
// runtime, for that module's tests.
package moduletest

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime/local"
)

// Up brings up svc, the declaration a module's Service returned with err, and returns
// the system and its one instance. A server the machine lacks (err is notInstalled)
// skips the test, but fails it under CI, whose test command installs every module's
// server; so does -short.
func Up(t *testing.T, svc harness.Service, err, notInstalled error) (*harness.Running, *harness.Instance) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real server: skipped under -short")
	}
	if errors.Is(err, notInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (ci/test.sh installs it)", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rt, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sys, err := harness.Up(t.Context(), harness.System{Name: svc.Name, Services: []harness.Service{svc}}, harness.WithRuntime(rt))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	return sys, sys.Instance(svc.Name + "-1")
}

package reference_test

import (
	"reflect"
	"testing"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reference"
)

func TestYAMLFixtureMatchesGoDeclaration(t *testing.T) {
	fromFile, err := harness.LoadFile("../../fixtures/reference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := reference.System(); !reflect.DeepEqual(fromFile, want) {
		t.Fatalf("fixtures/reference.yaml and reference.System() differ:\nfile: %+v\n  go: %+v", fromFile, want)
	}
	if err := reference.System().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	sys := reference.System(reference.WithReplicas("accounts", 3), reference.WithEnv("gateway", "GATEWAY_RETRIES", "0"))
	for _, s := range sys.Services {
		switch s.Name {
		case "accounts":
			if s.Replicas != 3 {
				t.Errorf("accounts replicas = %d, want 3", s.Replicas)
			}
		case "gateway":
			if s.Env["GATEWAY_RETRIES"] != "0" || s.Env["GATEWAY_API_KEYS"] == "" {
				t.Errorf("gateway env = %v", s.Env)
			}
		}
	}
	if reference.System().Services[4].Env["GATEWAY_RETRIES"] != "" {
		t.Error("WithEnv changed the shared default declaration")
	}
}

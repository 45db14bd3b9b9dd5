package shop_test

import (
	"os"
	"strings"
	"testing"
)

// TestTheREADMEShowsTheExperimentThatRuns keeps the root README's complete experiment
// equal to TestReadsStayAvailableWhileTheCacheIsDown, which make test runs: the README
// shows code that runs, not code that only compiles.
func TestTheREADMEShowsTheExperimentThatRuns(t *testing.T) {
	between := func(s, from, to string) string {
		i := strings.Index(s, from)
		if i < 0 {
			t.Fatalf("no %q", from)
		}
		s = s[i+len(from):]
		j := strings.Index(s, to)
		if j < 0 {
			t.Fatalf("no %q after %q", to, from)
		}
		return strings.TrimSpace(s[:j])
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	test, err := os.ReadFile("shop_test.go")
	if err != nil {
		t.Fatal(err)
	}
	shown := between(between(string(readme), "## Authoring an experiment", "\n## "), "```go\n", "```")
	ran := between(string(test), "// README: the complete experiment\n", "// README: end")
	if shown != ran {
		t.Fatalf("README.md's complete experiment differs from shop_test.go's (between the README markers): copy the test into the README\n--- README\n%s\n--- shop_test.go\n%s", shown, ran)
	}
}

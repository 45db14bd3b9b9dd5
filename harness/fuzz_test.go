package harness_test

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/harness"
)

// FuzzLoad feeds the topology loader arbitrary bytes: it must never panic, and every
// rejection must say where the problem is (the file's name) in words of its own, never
// the YAML decoder's raw message. The seed corpus is the small files of
// testdata/fuzz/FuzzLoad, good and broken (a compact copy of the shipped fixture's shape
// among them). Seeds stay small: the fuzzer minimizes every new input
// it finds, and minimizing one grown from the 1.4 KB fixture took the whole -fuzztime.
func FuzzLoad(f *testing.F) {
	f.Add("name: s\nservices:\n  - name: a\n    source: {binary: /bin/true}\n")
	f.Fuzz(func(t *testing.T, in string) {
		sys, err := harness.Load(strings.NewReader(in), "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			msg := strings.ReplaceAll(err.Error(), "fuzz.yaml", "")
			for _, raw := range []string{"cannot unmarshal", "not found in type", "yaml: "} {
				if strings.Contains(msg, raw) {
					t.Fatalf("the decoder's own message %q came through unexplained: %v", raw, err)
				}
			}
			return
		}
		if err := sys.Validate(); err != nil {
			t.Fatalf("Load accepted a system that Validate rejects: %v", err)
		}
	})
}

package harness_test

import (
	"os"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness"
)

// FuzzLoad feeds the topology loader arbitrary bytes: it must never panic, and every
// rejection must say where the problem is (the file's name) — the seed corpus is the
// shipped fixture plus the broken files of testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("../fixtures/reference.yaml"); err == nil {
		f.Add(string(b))
	}
	f.Add("name: s\nservices:\n  - name: a\n    source: {binary: /bin/true}\n")
	f.Fuzz(func(t *testing.T, in string) {
		sys, err := harness.Load(strings.NewReader(in), "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := sys.Validate(); err != nil {
			t.Fatalf("Load accepted a system that Validate rejects: %v", err)
		}
	})
}

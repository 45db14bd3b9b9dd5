package harness_test

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/harness"
)

func TestLoadRejectsBadInputWithAClearError(t *testing.T) {
	const ok = "name: s\nservices:\n  - name: a\n    source: {binary: /bin/true}\n"
	cases := []struct {
		name string
		yaml string
		want []string // every fragment must appear in the error
	}{
		{"empty file", "", []string{"t.yaml", "empty"}},
		{"unknown field", "name: s\nservices:\n  - name: a\n    replica: 2\n    source: {binary: /bin/true}\n", []string{"t.yaml", "line 4", `unknown field "replica"`}},
		{"wrong type", "name: s\nservices:\n  - name: a\n    replicas: two\n    source: {binary: /bin/true}\n", []string{"line 4", `"two"`, "int"}},
		{"malformed", "name: s\nservices: [\n", []string{"t.yaml"}},
		{"two documents", ok + "---\n" + ok, []string{"more than one"}},
		{"no services", "name: s\n", []string{"no service"}},
		{"no source", "name: s\nservices:\n  - name: a\n", []string{`service "a"`, "source is empty"}},
		{"two sources", "name: s\nservices:\n  - name: a\n    source: {binary: x, image: y}\n", []string{"binary and image", "exactly one"}},
		{"impossible replicas", "name: s\nservices:\n  - name: a\n    replicas: -1\n    source: {binary: x}\n", []string{"replicas -1", "1 to 16"}},
		{"bad name", "name: s\nservices:\n  - name: A_b\n    source: {binary: x}\n", []string{`"A_b"`, "lower-case"}},
		{"duplicate", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n  - name: a\n    source: {binary: x}\n", []string{"twice"}},
		{"unknown dependency", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    depends_on: [{service: b, env: B_ADDR}]\n", []string{`unknown service "b"`}},
		{"cycle", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    depends_on: [{service: b, env: B}]\n  - name: b\n    source: {binary: x}\n    depends_on: [{service: a, env: A}]\n", []string{"cycle", "a -> b -> a"}},
		{"bad port", "name: s\nservices:\n  - name: a\n    port: 70000\n    source: {binary: x}\n", []string{"port 70000"}},
		{"database without env", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    database: {server: {source: {binary: y}}}\n", []string{`service "a"`, "database.env is empty"}},
		{"database without source", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    database: {env: DB, server: {port: 5432}}\n", []string{`service "a"`, "database.server: source is empty"}},
		{"database replicated", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    database: {env: DB, server: {replicas: 2, source: {binary: y}}}\n", []string{"database.server.replicas is set", "a-db"}},
		{"database ready on a missing port", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    database: {env: DB, server: {source: {binary: y}, ready: {tcp: {port: pg}}}}\n", []string{"database.server: ", `"pg"`}},
		{"role is gone", "name: s\nservices:\n  - name: a\n    role: registry\n    source: {binary: x}\n", []string{`unknown field "role"`}},
		{"registry env is gone", "name: s\nservices:\n  - name: a\n    source: {binary: x}\n    registry_env: R\n", []string{`unknown field "registry_env"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := harness.Load(strings.NewReader(tc.yaml), "t.yaml")
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := harness.Load(strings.NewReader(ok), "t.yaml"); err != nil {
		t.Fatalf("a good file failed: %v", err)
	}
}

package figure

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateNamesTheMissingField(t *testing.T) {
	full := Figure{Group: "g", Name: "n", Unit: "ms", BaselineName: "b"}
	for field, f := range map[string]Figure{
		"Group":        {Name: "n", Unit: "ms", BaselineName: "b"},
		"Name":         {Group: "g", Unit: "ms", BaselineName: "b"},
		"Unit":         {Group: "g", Name: "n", BaselineName: "b"},
		"BaselineName": {Group: "g", Name: "n", Unit: "ms"},
	} {
		err := f.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("missing %s: got %v, want an error naming it", field, err)
		}
	}
	if err := full.Validate(); err != nil {
		t.Errorf("a full figure: %v", err)
	}
}

func TestAppendWritesOneJSONLinePerFigure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "figures.jsonl")
	in := []Figure{
		{Group: "g", Name: "a", Measured: 3, Baseline: 2, BaselineName: "b", Unit: "ms"},
		{Group: "g", Name: "b", Measured: 1, Baseline: 0, BaselineName: "b", Unit: "req/s"},
	}
	for _, f := range in {
		if err := Append(path, f); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(in) {
		t.Fatalf("%d lines, want %d", len(lines), len(in))
	}
	var got Figure
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got != in[0] || got.Ratio() != 1.5 || in[1].Ratio() != 0 {
		t.Errorf("round trip: got %+v ratio %v", got, got.Ratio())
	}
	if err := Append("", in[0]); err != nil {
		t.Errorf("empty path: %v", err)
	}
}

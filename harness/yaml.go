package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadFile reads a System from a YAML file. Decoding is strict: an unknown field, a
// value of the wrong type or a second document is an error that names the file, the
// line and the field; then the declaration is validated like a Go one.
func LoadFile(path string) (System, error) {
	f, err := os.Open(path)
	if err != nil {
		return System{}, fmt.Errorf("load system: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

// Load reads a System from YAML; name says where it came from in errors.
func Load(r io.Reader, name string) (System, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return System{}, fmt.Errorf("load system %s: %w", name, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return System{}, fmt.Errorf("%s: the file is empty: declare a system with name: and services:", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sys System
	if err := dec.Decode(&sys); err != nil {
		return System{}, fmt.Errorf("%s: %s", name, explainYAML(err))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return System{}, fmt.Errorf("%s: holds more than one YAML document: keep one system per file", name)
	}
	if err := sys.Validate(); err != nil {
		return System{}, fmt.Errorf("%s: %w", name, err)
	}
	return sys, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type harness\.(\w+)`)
	typeRE         = regexp.MustCompile(`line (\d+): cannot unmarshal !!(\w+) ` + "`" + `?([^` + "`" + `]*)` + "`" + `? into (\S+)`)
)

// explainYAML rewrites the decoder's messages into ones that say the fix.
func explainYAML(err error) string {
	msg := err.Error()
	var lines []string
	for _, line := range strings.Split(strings.TrimPrefix(msg, "yaml: unmarshal errors:\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if m := unknownFieldRE.FindStringSubmatch(line); m != nil {
			lines = append(lines, fmt.Sprintf("line %s: unknown field %q in %s: check its spelling against the fields in harness.%s", m[1], m[2], strings.ToLower(m[3]), m[3]))
			continue
		}
		if m := typeRE.FindStringSubmatch(line); m != nil {
			lines = append(lines, fmt.Sprintf("line %s: %q is a %s where a %s is expected: fix the value", m[1], m[3], m[2], strings.TrimPrefix(m[4], "harness.")))
			continue
		}
		lines = append(lines, strings.TrimPrefix(line, "yaml: "))
	}
	return strings.Join(lines, "; ")
}

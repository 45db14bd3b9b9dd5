package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/faultline/faultline/harness/wait"
)

// maxFileSize bounds what Load reads: a topology is a few kilobytes.
const maxFileSize = 4 << 20

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

// Load reads a System from YAML; name says where it came from in errors. Every error
// names the file, and where it can the line and the field, and says what to write
// instead.
func Load(r io.Reader, name string) (System, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return System{}, fmt.Errorf("load system %s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return System{}, fmt.Errorf("%s: the file is larger than %d MiB: a topology is a few kilobytes; check that this is the file you meant", name, maxFileSize>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return System{}, fmt.Errorf("%s: the file is empty: declare a system with name: and services:", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sys System
	if err := dec.Decode(&sys); err != nil {
		return System{}, fmt.Errorf("%s: %s", name, explainYAML(err, data))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return System{}, fmt.Errorf("%s: holds more than one YAML document: keep one system per file", name)
	}
	errs := explicitZeros(data)
	if err := sys.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return System{}, fmt.Errorf("%s: %w", name, err)
	}
	return sys, nil
}

// UnmarshalYAML reads ports written as a mapping of name to number, in the order
// written (`ports: {client: 2379, peer: 2380}`). Its errors name the line and the fix.
func (p *Ports) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	bad := func(line int, format string, args ...any) error {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)}}
	}
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		*p = nil
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return bad(n.Line, "ports is not a mapping: write each port as name: number, e.g. ports: {client: 2379, peer: 2380}")
	}
	out := Ports{}
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, val := resolve(n.Content[k]), resolve(n.Content[k+1])
		if key == nil || val == nil || key.Kind != yaml.ScalarNode {
			return bad(n.Line, "ports has a key that is not a name: write each port as name: number")
		}
		var num int
		if val.Kind != yaml.ScalarNode || val.Tag != "!!int" || val.Decode(&num) != nil {
			return bad(val.Line, "ports.%s is %q where a port number is expected: write a whole number from 1 to 65535, e.g. %s: 2379", key.Value, val.Value, key.Value)
		}
		out = append(out, NamedPort{Name: key.Value, Port: num})
	}
	*p = out
	return nil
}

// zeroMeansDefault are the service fields whose zero value a Go declaration leaves to
// the default, so that a file that writes the zero out asks for something impossible.
var zeroMeansDefault = map[string]string{
	"replicas": "a service runs at least one instance: use 1 to 16, or leave replicas out for the default 1",
	"port":     "use 1 to 65535, or leave port out for the default 8080",
}

// explicitZeros finds the fields of zeroMeansDefault written as 0 in a file: Validate
// cannot tell them from a field left out.
func explicitZeros(data []byte) []error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	services := mappingValue(doc.Content[0], "services")
	if services == nil || services.Kind != yaml.SequenceNode {
		return nil
	}
	var errs []error
	for i, svc := range services.Content {
		svc = resolve(svc)
		if svc == nil || svc.Kind != yaml.MappingNode {
			continue
		}
		where := fmt.Sprintf("services[%d]", i)
		if n := mappingValue(svc, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
			where = fmt.Sprintf("service %q", n.Value)
		}
		for k := 0; k+1 < len(svc.Content); k += 2 {
			key, val := svc.Content[k], resolve(svc.Content[k+1])
			fix, ok := zeroMeansDefault[key.Value]
			var n int64
			if !ok || val == nil || val.Kind != yaml.ScalarNode || val.Decode(&n) != nil || n != 0 {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: line %d: %s 0 is impossible: %s", where, val.Line, key.Value, fix))
		}
	}
	return errs
}

// mappingValue is the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == key {
			return resolve(m.Content[k+1])
		}
	}
	return nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.*) not found in type (?:harness|wait)\.(\w+)$`)
	typeRE         = regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal (\\S+)(?: `(.*)`)? into (\\S+)$")
	syntaxLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// declTypes are the types a topology file is decoded into, by their Go name, so that an
// unknown field can be answered with the fields that type does have.
var declTypes = map[string]reflect.Type{
	"System":     reflect.TypeFor[System](),
	"Service":    reflect.TypeFor[Service](),
	"Source":     reflect.TypeFor[Source](),
	"Dependency": reflect.TypeFor[Dependency](),
	"Database":   reflect.TypeFor[Database](),
	"Cluster":    reflect.TypeFor[Cluster](),
	"Strategy":   reflect.TypeFor[wait.Strategy](),
	"HTTP":       reflect.TypeFor[wait.HTTP](),
	"TCP":        reflect.TypeFor[wait.TCP](),
	"Log":        reflect.TypeFor[wait.Log](),
	"Exec":       reflect.TypeFor[wait.Exec](),
}

// readyNames name the readiness types of package wait as a file writes them.
var readyNames = map[string]string{
	"Strategy": "ready", "HTTP": "ready http check", "TCP": "ready tcp check", "Log": "ready log check", "Exec": "ready exec check",
}

// explainYAML rewrites the decoder's messages into ones that name the line and the
// field and say the fix.
func explainYAML(err error, data []byte) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := err.Error()
		if m := syntaxLineRE.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("line %s: YAML syntax error: %s: fix the YAML near line %s "+
				"(indentation, an unclosed [ or {, a stray quote, a tab)", m[1], m[2], m[1])
		}
		return fmt.Sprintf("YAML syntax error: %s: fix the file (is it YAML, in UTF-8?)", strings.TrimPrefix(msg, "yaml: "))
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc) // best effort: only to name fields
	var lines []string
	for _, line := range te.Errors {
		line = strings.TrimSpace(line)
		if m := unknownFieldRE.FindStringSubmatch(line); m != nil {
			lines = append(lines, explainUnknownField(m[1], m[2], m[3]))
			continue
		}
		if m := typeRE.FindStringSubmatch(line); m != nil {
			lines = append(lines, explainType(&doc, m[1], m[2], m[3], m[4]))
			continue
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// explainUnknownField says which field was not understood, the nearest real one, and
// every field the type has.
func explainUnknownField(line, field, typeName string) string {
	var fields []string
	if t, ok := declTypes[typeName]; ok {
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
				fields = append(fields, name)
			}
		}
	}
	what, goName := strings.ToLower(typeName), "harness."+typeName
	if w, ok := readyNames[typeName]; ok {
		what, goName = w, "wait."+typeName
	}
	msg := fmt.Sprintf("line %s: unknown field %q in %s: ", line, field, what)
	if near := nearest(field, fields); near != "" {
		msg += fmt.Sprintf("did you mean %q? ", near)
	}
	if len(fields) == 0 {
		return msg + "check its spelling against the fields of " + goName
	}
	return msg + fmt.Sprintf("a %s has %s (%s)", what, strings.Join(fields, ", "), goName)
}

// nearest is the field within two edits of s (case aside), or "".
func nearest(s string, fields []string) string {
	best, bestD := "", 3
	for _, f := range fields {
		if d := editDistance(strings.ToLower(s), f); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (both short).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// yamlKinds names a YAML tag for a person.
var yamlKinds = map[string]string{
	"str": "a string", "int": "a number", "float": "a number", "bool": "true or false",
	"seq": "a list", "map": "a mapping", "null": "null", "binary": "binary data", "timestamp": "a timestamp",
}

// explainType says which field holds a value of the wrong type, what it should be, and
// how to write it.
func explainType(doc *yaml.Node, line, tag, value, goType string) string {
	field := fieldAt(doc, line, value)
	if field == "" {
		field = "a value"
	}
	got := yamlKinds[strings.TrimPrefix(tag, "!!")]
	if got == "" {
		got = "a value tagged " + tag
	}
	if value != "" {
		got = fmt.Sprintf("%q, %s,", value, got)
	}
	want, fix := expected(goType)
	return fmt.Sprintf("line %s: %s is %s where %s (%s) is expected: %s", line, field, got, want, goType, fix)
}

// expected describes a Go type of the declaration for a person, and how to write it.
func expected(goType string) (want, fix string) {
	switch {
	case goType == "int":
		return "a whole number", "write a whole number, without quotes or a unit"
	case goType == "time.Duration":
		return "a duration", "write a number with its unit, such as 90s or 2m"
	case goType == "string":
		return "a single value", "write one value on the line (quote it if it holds ':' or starts with a symbol)"
	case strings.HasPrefix(goType, "[]"):
		return "a list", `write a list: one "- item" a line, or [a, b]`
	case strings.HasPrefix(goType, "map["):
		return "a mapping", "write key: value lines, or {key: value}"
	default:
		return "a mapping of fields", "write its fields as key: value lines, or {key: value}"
	}
}

// fieldAt is the path ("services[0].replicas") of the value on line that reads value
// (any value on that line when value is empty), or "".
func fieldAt(doc *yaml.Node, line, value string) string {
	var found string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n == nil || found != "" {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for k := 0; k+1 < len(n.Content); k += 2 {
				key, val := n.Content[k], n.Content[k+1]
				p := key.Value
				if path != "" {
					p = path + "." + key.Value
				}
				if fmt.Sprint(val.Line) == line && sameValue(val.Value, value) {
					found = p
					return
				}
				walk(val, p)
			}
		}
	}
	walk(doc, "")
	return found
}

// sameValue reports whether a node's value is the one a decoder message quotes: any
// value when it quotes none, and the start of it when it shortened it ("9999999...").
func sameValue(node, quoted string) bool {
	if short, ok := strings.CutSuffix(quoted, "..."); ok {
		return strings.HasPrefix(node, short)
	}
	return quoted == "" || node == quoted
}

// sortedNames is the names of the declared services, for messages.
func sortedNames(seen map[string]bool) string {
	names := make([]string, 0, len(seen))
	for n := range seen {
		if n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

package netfault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/toxics"
)

// ErrInvalid is the cause of every error about a bad toxic or link parameter, for
// callers that branch on bad input.
var ErrInvalid = errors.New("invalid parameter")

// ErrNotFound says a toxic or proxy is not there (already removed, never added).
var ErrNotFound = errors.New("not found")

// ErrExists says a proxy or toxic of that name is already there.
var ErrExists = errors.New("already exists")

// Direction is which way a toxic acts on a link's traffic.
type Direction int

const (
	// Downstream acts on what the server sends back toward the client: Toxiproxy's
	// default, and the zero value.
	Downstream Direction = iota
	// Upstream acts on what the client sends toward the server.
	Upstream
	// Both acts each way: AddToxic adds two toxics, "<name>_upstream" and
	// "<name>_downstream", and RemoveToxic(name) removes both.
	Both
)

// String is Toxiproxy's name for the direction ("upstream", "downstream") or "both".
func (d Direction) String() string {
	switch d {
	case Downstream:
		return "downstream"
	case Upstream:
		return "upstream"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// The toxic types a Link accepts: Toxiproxy's own and faultline's http.
const (
	// TypeLatency delays data: attributes latency and jitter, in milliseconds.
	TypeLatency = "latency"
	// TypeBandwidth limits throughput: attribute rate, in KB/s; 0 lets nothing through.
	TypeBandwidth = "bandwidth"
	// TypeSlowClose delays the close: attribute delay, in milliseconds.
	TypeSlowClose = "slow_close"
	// TypeTimeout stops all data and closes the connection after attribute timeout
	// milliseconds; 0 never closes it (a black hole: callers hang, not refused).
	TypeTimeout = "timeout"
	// TypeResetPeer resets the connection (TCP RST) attribute timeout milliseconds
	// after the first data.
	TypeResetPeer = "reset_peer"
	// TypeSlicer cuts data into pieces: average_size and size_variation in bytes
	// (average_size >= 1, size_variation < average_size), delay between pieces in
	// microseconds.
	TypeSlicer = "slicer"
	// TypeLimitData closes the connection after attribute bytes bytes.
	TypeLimitData = "limit_data"
	// TypeHTTP fails or delays chosen HTTP requests, decided per request; see
	// toxics.HTTPRule for its attributes (action, path_prefix, method, header,
	// fraction, first_n, seed, status, delay_ms).
	TypeHTTP = toxics.TypeHTTP
)

// Toxic describes one toxic to add to a link.
type Toxic struct {
	// Name identifies the toxic on its link; empty means "<type>_<stream>", as in
	// Toxiproxy. Letters, digits, '_', '-' and '.' only.
	Name string
	// Type is one of the Type constants.
	Type string
	// Stream is the way it acts (Downstream, the zero value, by default). TypeHTTP
	// reads requests whatever the stream (Both is refused).
	Stream Direction
	// Toxicity is the share of connections the toxic hits, in [0, 1]. 0 means 1.0 (every
	// connection), because Toxiproxy's toxicity 0 never fires. Toxiproxy draws it once
	// per connection, not per request: with keep-alive, 0.5 hits whole connections. For
	// TypeHTTP it must be 0 or 1: use its fraction attribute.
	Toxicity float64
	// Attributes are the type's parameters, named as Toxiproxy names them ("latency",
	// "rate", ...), in its units (milliseconds unless the name says otherwise).
	Attributes map[string]any
}

// attrKind is what a Toxiproxy attribute holds.
type attrKind struct {
	unit string // for messages: "ms", "KB/s", "bytes", "µs"
	min  int64
}

// attrSpecs are the attributes of Toxiproxy's own toxic types, checked before they are
// sent: Toxiproxy itself takes anything and crashes on some (a slicer of average_size 0
// recurses forever).
var attrSpecs = map[string]map[string]attrKind{
	TypeLatency:   {"latency": {"ms", 0}, "jitter": {"ms", 0}},
	TypeBandwidth: {"rate": {"KB/s", 0}},
	TypeSlowClose: {"delay": {"ms", 0}},
	TypeTimeout:   {"timeout": {"ms", 0}},
	TypeResetPeer: {"timeout": {"ms", 0}},
	TypeSlicer:    {"average_size": {"bytes", 1}, "size_variation": {"bytes", 0}, "delay": {"µs", 0}},
	TypeLimitData: {"bytes": {"bytes", 0}},
}

// Types lists the toxic types a Link accepts.
func Types() []string {
	types := []string{TypeHTTP}
	for t := range attrSpecs {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// invalid builds an error about a bad parameter, naming it and the fix.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// normalize checks a toxic and fills its defaults: name, toxicity.
func (t Toxic) normalize() (Toxic, error) {
	if _, ok := attrSpecs[t.Type]; !ok && t.Type != TypeHTTP {
		return t, invalid("toxic type %q: want one of %s", t.Type, strings.Join(Types(), ", "))
	}
	switch t.Stream {
	case Downstream, Upstream, Both:
	default:
		return t, invalid("toxic %s: Stream %v: want netfault.Upstream, netfault.Downstream or netfault.Both", t.Type, t.Stream)
	}
	if math.IsNaN(t.Toxicity) || t.Toxicity < 0 || t.Toxicity > 1 {
		return t, invalid("toxic %s: Toxicity %v: want a share of connections in [0, 1] (0 means 1: every connection)", t.Type, t.Toxicity)
	}
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	if t.Name == "" {
		t.Name = t.Type + "_" + t.Stream.String()
		if t.Type == TypeHTTP {
			t.Name = TypeHTTP
		}
	}
	if !nameRE.MatchString(t.Name) {
		return t, invalid("toxic name %q: use 1 to 128 letters, digits, '_', '-' or '.'", t.Name)
	}
	if t.Name == residentUp || t.Name == residentDown {
		return t, invalid("toxic name %q is netfault's own: choose another", t.Name)
	}
	for k, v := range t.Attributes {
		if _, ok := v.(time.Duration); ok {
			return t, invalid("toxic %s: attribute %s is a time.Duration: give a number in the unit Toxiproxy takes (d.Milliseconds() for ms)", t.Type, k)
		}
	}
	if t.Type == TypeHTTP {
		return t, t.checkHTTP()
	}
	return t, t.checkAttributes()
}

// checkAttributes checks the attributes of one of Toxiproxy's own types.
func (t Toxic) checkAttributes() error {
	spec := attrSpecs[t.Type]
	got := map[string]int64{}
	for k, v := range t.Attributes {
		kind, ok := spec[k]
		if !ok {
			return invalid("toxic %s: unknown attribute %q: want %s", t.Type, k, strings.Join(slices.Sorted(maps.Keys(spec)), ", "))
		}
		n, ok := integer(v)
		if !ok {
			return invalid("toxic %s: attribute %s is %v (%T): want a whole number of %s", t.Type, k, v, v, kind.unit)
		}
		if n < kind.min {
			return invalid("toxic %s: attribute %s is %d: want >= %d %s", t.Type, k, n, kind.min, kind.unit)
		}
		got[k] = n
	}
	if t.Type == TypeSlicer {
		avg, ok := got["average_size"]
		if !ok {
			return invalid("toxic slicer: attribute average_size is missing: give the average piece size in bytes (>= 1)")
		}
		if v := got["size_variation"]; v >= avg {
			return invalid("toxic slicer: size_variation %d: want less than average_size %d", v, avg)
		}
	}
	return nil
}

// checkHTTP checks an http toxic: one rule, named after the toxic.
func (t Toxic) checkHTTP() error {
	if t.Stream == Both {
		return invalid("toxic http: Stream both: the http toxic reads requests: give netfault.Upstream")
	}
	if t.Toxicity != 1 {
		return invalid("toxic http: Toxicity %v: the http toxic decides per request: set attribute fraction and leave Toxicity 0 or 1", t.Toxicity)
	}
	_, err := httpRule(t)
	return err
}

// httpRule turns an http toxic's attributes into a rule named after the toxic.
func httpRule(t Toxic) (toxics.HTTPRule, error) {
	var r toxics.HTTPRule
	for _, k := range []string{"name", "pair", "rules"} {
		if _, ok := t.Attributes[k]; ok {
			return r, invalid("toxic http: attribute %q is netfault's to set: name the toxic instead", k)
		}
	}
	data, err := json.Marshal(t.Attributes)
	if err != nil {
		return r, invalid("toxic http: attributes: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, invalid("toxic http: attributes: %v (attributes: action, path_prefix, method, header, fraction, first_n, seed, status, delay_ms)", err)
	}
	r.Name = t.Name
	if r.Action == "" {
		return r, invalid("toxic http: attribute action is missing: give %q or %q", toxics.ActionFail, toxics.ActionDelay)
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return r, nil
}

// integer reads a whole number from the types a caller may put in Attributes.
func integer(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return 0, false
		}
		return int64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int64(f), true
	}
	if n, ok := v.(json.Number); ok {
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

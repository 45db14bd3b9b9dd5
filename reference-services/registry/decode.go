package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
)

// maxBody bounds a register request's body.
const maxBody = 64 << 10

// maxName bounds the length of a service name or an instance id.
const maxName = 128

const registerExample = `{"service":"accounts","id":"accounts-1","address":"10.0.0.7:8080","ttl_ms":3000}`

// decodeRegister reads one RegisterRequest from body, saying what is wrong with it when
// it is not one.
func decodeRegister(body io.Reader) (discovery.RegisterRequest, error) {
	var req discovery.RegisterRequest
	dec := json.NewDecoder(body)
	if err := dec.Decode(&req); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return req, fmt.Errorf("body is empty: send a JSON register request like %s", registerExample)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return req, fmt.Errorf("body is not valid JSON: it ends too early: send a JSON register request like %s", registerExample)
		case errors.As(err, &syntax):
			return req, fmt.Errorf("body is not valid JSON at byte %d (%v): send a JSON register request like %s", syntax.Offset, err, registerExample)
		case errors.As(err, &typ) && typ.Field != "":
			// Fields of the embedded Instance come as "Instance.service".
			field := strings.TrimPrefix(typ.Field, "Instance.")
			if strings.HasPrefix(field, "meta") {
				return req, fmt.Errorf("meta holds a JSON %s: give a JSON object whose values are strings, e.g. {\"version\":\"1.4\"}", typ.Value)
			}
			return req, fmt.Errorf("%s is a JSON %s: give a %s", field, typ.Value, jsonKind(typ.Type.Kind().String()))
		case errors.As(err, &typ):
			return req, fmt.Errorf("body is a JSON %s: send a JSON object like %s", typ.Value, registerExample)
		case errors.As(err, &tooBig):
			return req, fmt.Errorf("body is larger than %d bytes: send only the register request", tooBig.Limit)
		default:
			return req, fmt.Errorf("read body: %w", err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, errors.New("body has more after the JSON object: send exactly one register request")
	}
	return req, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "JSON string"
	case "map", "struct":
		return "JSON object of strings"
	case "int64", "int", "uint64":
		return "whole number"
	}
	return goKind
}

// validate checks a register request and returns the instance and the lease length to
// grant: the request's own ttl_ms bounded to [MinTTL, MaxTTL], or def. Every problem
// found is named, with its field and its fix.
func validate(req discovery.RegisterRequest, def time.Duration) (discovery.Instance, time.Duration, error) {
	var errs []error
	if err := checkName("service", req.Service, `the logical service name, e.g. "accounts"`); err != nil {
		errs = append(errs, err)
	}
	if err := checkName("id", req.ID, `an id unique to this instance, e.g. "accounts-1"`); err != nil {
		errs = append(errs, err)
	}
	if err := checkAddress(req.Address); err != nil {
		errs = append(errs, err)
	}
	ttl := def
	switch {
	case req.TTLMillis < 0:
		errs = append(errs, fmt.Errorf("ttl_ms is %d: give a lease length in milliseconds from %d to %d, or leave it out for the default %d",
			req.TTLMillis, MinTTL.Milliseconds(), MaxTTL.Milliseconds(), def.Milliseconds()))
	case req.TTLMillis > 0:
		ttl = min(max(time.Duration(req.TTLMillis)*time.Millisecond, MinTTL), MaxTTL)
	}
	if len(errs) > 0 {
		return discovery.Instance{}, 0, joinErrors(errs)
	}
	return req.Instance, ttl, nil
}

func checkName(field, v, what string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is empty: give %s", field, what)
	case len(v) > maxName:
		return fmt.Errorf("%s is %d bytes long: give at most %d, %s", field, len(v), maxName, what)
	case !isAlnum(v[0]):
		return fmt.Errorf("%s %q does not start with a letter or digit: give %s", field, v, what)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !strings.ContainsRune("._-:@", rune(c)) {
			return fmt.Errorf("%s %q holds %q: use only letters, digits and . _ - : @ in %s", field, v, c, what)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func checkAddress(addr string) error {
	const fix = "give host:port where callers reach the instance"
	if addr == "" {
		return fmt.Errorf("address is empty: %s", fix)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port: %s, e.g. \"10.0.0.7:8080\"", addr, fix)
	}
	if host == "" {
		return fmt.Errorf("address %q has no host: %s, with the host and not only the port", addr, fix)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q has port %q: %s, with a port from 1 to 65535", addr, port, fix)
	}
	return nil
}

// joinErrors joins errors on one line, for a JSON error body.
func joinErrors(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// parseQuery reads the index and wait of a blocking query.
func parseQuery(q map[string][]string, maxWait time.Duration) (uint64, time.Duration, error) {
	var index uint64
	var wait time.Duration
	if vs := q["index"]; len(vs) > 0 && vs[0] != "" {
		n, err := strconv.ParseUint(vs[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("index %q is not a whole number >= 0: pass the %s of the last answer, or leave it out", vs[0], discovery.IndexHeader)
		}
		index = n
	}
	if vs := q["wait"]; len(vs) > 0 && vs[0] != "" {
		d, err := time.ParseDuration(vs[0])
		if err != nil || d < 0 {
			return 0, 0, fmt.Errorf("wait %q is not a duration: write it like 10s or 500ms (it is capped at %s)", vs[0], maxWait)
		}
		wait = d
	}
	return index, wait, nil
}

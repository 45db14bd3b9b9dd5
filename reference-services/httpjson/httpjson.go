package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
)

// MaxBody is the largest request body Decode reads.
const MaxBody = 1 << 20

// OutcomeHeader is set to "unknown" on an error answer when the write it refused may
// nonetheless have been applied (the store timed out while committing). A caller that
// sees no such header on a 503 knows nothing was written.
const OutcomeHeader = "Write-Outcome"

// DependencyHeader names, on an error answer, the dependency whose failure the error is:
// the service that answers is itself healthy, and another of its instances would fail the
// same way. A gateway neither counts such an answer against the instance's circuit breaker
// nor retries it on another instance.
const DependencyHeader = "Failed-Dependency"

// ReplayedHeader is set to "true" on an answer replayed from an idempotency record.
const ReplayedHeader = "Idempotent-Replayed"

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// Error is an error with the status code it answers with. Its message is what the caller
// reads, so it names the field at fault and how to fix it.
type Error struct {
	Status  int
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// HTTPStatus returns the status code the error answers with.
func (e *Error) HTTPStatus() int { return e.Status }

// Errorf returns an *Error with status and a formatted message.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Status returns the status code err answers with: that of the first error in its chain
// with an HTTPStatus method, else 500.
func Status(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	return http.StatusInternalServerError
}

// OutcomeUnknown tells whether err says that a write may have been applied although it
// failed: some error in its chain has an OutcomeUnknown method that returns true.
func OutcomeUnknown(err error) bool {
	var u interface{ OutcomeUnknown() bool }
	return errors.As(err, &u) && u.OutcomeUnknown()
}

// Write answers with status and v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorBody{Error: "encode answer: " + err.Error()})
	}
	WriteRaw(w, status, b)
}

// WriteRaw answers with status and body, which must already be JSON.
func WriteRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

// WriteError answers with err's status (see Status) and {"error": err's message}, and sets
// OutcomeHeader when err says the write may have happened.
func WriteError(w http.ResponseWriter, err error) {
	if OutcomeUnknown(err) {
		w.Header().Set(OutcomeHeader, "unknown")
	}
	Write(w, Status(err), ErrorBody{Error: err.Error()})
}

// Decode reads r's body as exactly one JSON object into v, refusing unknown fields. Its
// errors are *Error values with status 400 (413 for a body over MaxBody) whose message
// names the field at fault.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "request body holds more than one JSON value: send a single object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, "request body is empty: send a JSON object")
	case errors.As(err, &tooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, "request body is over %d bytes: send a smaller object", tooLarge.Limit)
	case errors.As(err, &syntax):
		return Errorf(http.StatusBadRequest, "request body is not valid JSON (at byte %d: %v): send a JSON object", syntax.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, "request body is cut short: send a complete JSON object")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return Errorf(http.StatusBadRequest, "request body must be a JSON object, got %s", typ.Value)
		}
		return Errorf(http.StatusBadRequest, "field %q must be %s, got %s", typ.Field, kind(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return Errorf(http.StatusBadRequest, "unknown field %s: remove it (check its spelling)", field)
	}
	return Errorf(http.StatusBadRequest, "request body cannot be read: %v", err)
}

func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number >= 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// Required returns a 400 error saying field is missing, with an example of the body.
func Required(field, example string) error {
	return Errorf(http.StatusBadRequest, "field %q is required: send a body like %s", field, example)
}

// MaxIDLen is the longest identifier CheckID accepts.
const MaxIDLen = 128

// CheckID returns a 400 error naming what when id is not 1 to MaxIDLen characters of
// letters, digits, '.', '_' and '-'. Identifiers go into paths and store keys, so they
// are kept plain.
func CheckID(what, id string) error {
	if id == "" {
		return Errorf(http.StatusBadRequest, "%s is empty: use 1 to %d letters, digits, '.', '_' or '-'", what, MaxIDLen)
	}
	if len(id) > MaxIDLen {
		return Errorf(http.StatusBadRequest, "%s is %d characters long: use at most %d", what, len(id), MaxIDLen)
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return Errorf(http.StatusBadRequest, "%s %q holds %q: use only letters, digits, '.', '_' or '-'", what, id, c)
		}
	}
	return nil
}

// IdempotencyKeyHeader is the request header that makes a write safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
const MaxIdempotencyKeyLen = 255

// IdempotencyKey returns the request's Idempotency-Key. When required and absent, or when
// malformed, it returns a 400 error naming the header; op names the operation ("deposits").
func IdempotencyKey(r *http.Request, required bool, op string) (string, error) {
	key := strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader))
	switch {
	case key == "" && required:
		return "", Errorf(http.StatusBadRequest, "header %q is required for %s: send a unique key per intended operation (a UUID, say) and reuse it on retries", IdempotencyKeyHeader, op)
	case len(key) > MaxIdempotencyKeyLen:
		return "", Errorf(http.StatusBadRequest, "header %q is %d characters long: use at most %d", IdempotencyKeyHeader, len(key), MaxIdempotencyKeyLen)
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return "", Errorf(http.StatusBadRequest, "header %q holds %q: use printable ASCII without spaces", IdempotencyKeyHeader, c)
		}
	}
	return key, nil
}

// Routes wraps mux so that its own "404 page not found" and "405 method not allowed"
// answers come as JSON error bodies like every other error.
func Routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}, status: http.StatusNotFound}
		mux.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			Write(w, rec.status, ErrorBody{Error: fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow)})
		case http.StatusNotFound:
			Write(w, rec.status, ErrorBody{Error: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
		default: // a redirect to the clean path, say: pass it on as it is
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

// Fail answers err as JSON (see WriteError), logging it first when it is the server's
// fault (a 5xx), with the request's method and path.
func Fail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if Status(err) >= 500 {
		log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, err)
}

// WriteStored answers with a response the store kept for an idempotency key, marking a
// replay with ReplayedHeader so that a caller can tell a retry from a first answer.
func WriteStored(w http.ResponseWriter, status int, body []byte, replayed bool) {
	if replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
	WriteRaw(w, status, body)
}

// Fingerprint names a request for an idempotency record: method, path and the decoded
// body, so that a key reused for anything else can be refused.
func Fingerprint(r *http.Request, body any) string {
	b, _ := json.Marshal(body)
	return r.Method + " " + r.URL.Path + " " + string(b)
}

// Mutation is what an idempotent change to one record arrives with: the record's id (the
// path value "id"), its Idempotency-Key, one positive whole number from the body, and the
// request's Fingerprint.
type Mutation struct {
	ID      string
	Key     string
	N       int64
	Request string
}

// ReadMutation reads and checks a Mutation. idLabel names the id in errors ("account
// id"); ops names the calls in the missing-key error ("deposits"); field is the body's
// one field ("amount"), example a valid body for errors, unit what the number counts
// (" (whole cents)", or "").
func ReadMutation(w http.ResponseWriter, r *http.Request, idLabel, ops, field, example, unit string) (Mutation, error) {
	m := Mutation{ID: r.PathValue("id")}
	if err := CheckID(idLabel, m.ID); err != nil {
		return m, err
	}
	key, err := IdempotencyKey(r, true, ops)
	if err != nil {
		return m, err
	}
	m.Key = key
	// A struct with the one field, built for its JSON name, keeps Decode's strictness
	// (unknown fields, wrong types) and its messages.
	typ := reflect.StructOf([]reflect.StructField{{
		Name: "N", Type: reflect.TypeFor[*int64](), Tag: reflect.StructTag(`json:"` + field + `"`),
	}})
	body := reflect.New(typ)
	if err := Decode(w, r, body.Interface()); err != nil {
		return m, err
	}
	n := body.Elem().Field(0).Interface().(*int64)
	switch {
	case n == nil:
		return m, Required(field, example)
	case *n <= 0:
		return m, Errorf(http.StatusBadRequest, "field %q must be > 0%s, got %d", field, unit, *n)
	}
	m.N = *n
	m.Request = Fingerprint(r, body.Interface())
	return m, nil
}

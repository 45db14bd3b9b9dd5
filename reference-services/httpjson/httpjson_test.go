package httpjson_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faultline/faultline/reference-services/httpjson"
)

func TestDecodeNamesTheFault(t *testing.T) {
	type body struct {
		Amount *int64 `json:"amount"`
		Name   string `json:"name"`
	}
	for _, tc := range []struct {
		in       string
		status   int
		mentions string
	}{
		{`{"amount": 5, "name": "x"}`, 0, ""},
		{``, 400, "empty"},
		{`{"amount": 1.5}`, 400, `field "amount" must be a whole number`},
		{`{"name": 3}`, 400, `field "name" must be a string`},
		{`{"amount": 1, "colour": "red"}`, 400, `unknown field "colour"`},
		{`{"amount": 1`, 400, "cut short"},
		{`{"amount": }`, 400, "not valid JSON"},
		{`[1, 2]`, 400, "must be a JSON object"},
		{`{"amount": 1} {"amount": 2}`, 400, "more than one"},
		{`{"name": "` + strings.Repeat("x", httpjson.MaxBody) + `"}`, 413, "over"},
	} {
		t.Run(fmt.Sprintf("%.30s", tc.in), func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
			var b body
			err := httpjson.Decode(httptest.NewRecorder(), r, &b)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if got := httpjson.Status(err); got != tc.status {
				t.Errorf("status %d, want %d (%v)", got, tc.status, err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %v does not mention %q", err, tc.mentions)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{
		"alice": true, "a.b_c-9": true, strings.Repeat("a", httpjson.MaxIDLen): true,
		"": false, "a b": false, "a/b": false, "é": false, strings.Repeat("a", httpjson.MaxIDLen+1): false,
	} {
		if err := httpjson.CheckID("id", id); (err == nil) != ok {
			t.Errorf("CheckID(%q) = %v, want ok %t", id, err, ok)
		}
	}
}

type outcomeErr struct{}

func (outcomeErr) Error() string        { return "maybe written" }
func (outcomeErr) HTTPStatus() int      { return http.StatusServiceUnavailable }
func (outcomeErr) OutcomeUnknown() bool { return true }

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		outcome string
	}{
		{httpjson.Errorf(http.StatusConflict, "taken"), 409, ""},
		{fmt.Errorf("wrapped: %w", outcomeErr{}), 503, "unknown"},
		{errors.New("plain"), 500, ""},
	} {
		rec := httptest.NewRecorder()
		httpjson.WriteError(rec, tc.err)
		var body httpjson.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.err.Error() {
			t.Errorf("%v: body %q", tc.err, rec.Body)
		}
		if rec.Code != tc.status || rec.Header().Get(httpjson.OutcomeHeader) != tc.outcome {
			t.Errorf("%v: %d outcome %q, want %d %q", tc.err, rec.Code, rec.Header().Get(httpjson.OutcomeHeader), tc.status, tc.outcome)
		}
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	h := httpjson.Routes(mux)
	for _, tc := range []struct {
		method, path string
		status       int
		mentions     string
	}{
		{"GET", "/v1/things/a", 200, `"id":"a"`},
		{"DELETE", "/v1/things/a", 405, "GET"},
		{"GET", "/v1/other", 404, "/v1/other"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), tc.mentions) {
			t.Errorf("%s %s: %d %s %q", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	for _, tc := range []struct {
		key      string
		required bool
		ok       bool
	}{
		{"abc-123", true, true},
		{"", false, true},
		{"", true, false},
		{"has space", false, false},
		{strings.Repeat("k", httpjson.MaxIdempotencyKeyLen+1), false, false},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set(httpjson.IdempotencyKeyHeader, tc.key)
		got, err := httpjson.IdempotencyKey(r, tc.required, "tests")
		if (err == nil) != tc.ok || (err == nil && got != tc.key) {
			t.Errorf("key %q required %t: %q, %v", tc.key, tc.required, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), httpjson.IdempotencyKeyHeader) {
			t.Errorf("error %v does not name the header", err)
		}
	}
}

func TestReadMutation(t *testing.T) {
	cases := []struct {
		name, id, key, body string
		wantN               int64
		wantErr             string
	}{
		{"good", "alice", "k1", `{"amount": 5}`, 5, ""},
		{"no key", "alice", "", `{"amount": 5}`, 0, "Idempotency-Key"},
		{"bad id", "a b", "k1", `{"amount": 5}`, 0, "account id"},
		{"missing field", "alice", "k1", `{}`, 0, `"amount"`},
		{"not positive", "alice", "k1", `{"amount": -2}`, 0, `field "amount" must be > 0 (whole cents), got -2`},
		{"unknown field", "alice", "k1", `{"amount": 5, "qty": 1}`, 0, "qty"},
		{"wrong type", "alice", "k1", `{"amount": "five"}`, 0, "amount"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/accounts/x/deposit", strings.NewReader(tc.body))
			r.SetPathValue("id", tc.id)
			if tc.key != "" {
				r.Header.Set(httpjson.IdempotencyKeyHeader, tc.key)
			}
			m, err := httpjson.ReadMutation(httptest.NewRecorder(), r, "account id", "deposits", "amount", `{"amount": 100}`, " (whole cents)")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr == "" && (m.N != tc.wantN || m.Key != tc.key || m.ID != tc.id || m.Request != `POST /v1/accounts/x/deposit {"amount":5}`):
				t.Fatalf("mutation %+v", m)
			}
		})
	}
}

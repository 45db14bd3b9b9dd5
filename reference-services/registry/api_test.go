package registry_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry"
)

func TestRegisterRejectsBadInputNamingTheField(t *testing.T) {
	s := start(t)
	cases := []struct {
		name, body string
		want       []string // every one must be in the error
	}{
		{"empty body", ``, []string{"body is empty", `"service"`}},
		{"not JSON", `service=accounts`, []string{"not valid JSON"}},
		{"truncated JSON", `{"service":"accounts"`, []string{"not valid JSON", "ends too early"}},
		{"array", `[1,2]`, []string{"JSON object"}},
		{"two objects", `{} {}`, []string{"exactly one"}},
		{"service of the wrong type", `{"service":5,"id":"a-1","address":"h:1"}`, []string{"service is a JSON number", "string"}},
		{"ttl of the wrong type", `{"service":"a","id":"a-1","address":"h:1","ttl_ms":"3s"}`, []string{"ttl_ms is a JSON string", "whole number"}},
		{"meta of the wrong type", `{"service":"a","id":"a-1","address":"h:1","meta":{"v":1}}`, []string{"meta holds a JSON number"}},
		{"no service", `{"id":"a-1","address":"h:1"}`, []string{"service is empty: give the logical service name"}},
		{"no id", `{"service":"a","address":"h:1"}`, []string{"id is empty: give an id unique to this instance"}},
		{"no address", `{"service":"a","id":"a-1"}`, []string{"address is empty: give host:port where callers reach the instance"}},
		{"address without port", `{"service":"a","id":"a-1","address":"10.0.0.7"}`, []string{`address "10.0.0.7" is not host:port`}},
		{"address without host", `{"service":"a","id":"a-1","address":":8080"}`, []string{`address ":8080" has no host`}},
		{"address with a bad port", `{"service":"a","id":"a-1","address":"h:99999"}`, []string{`has port "99999"`, "1 to 65535"}},
		{"service with a slash", `{"service":"a/b","id":"a-1","address":"h:1"}`, []string{`service "a/b" holds '/'`}},
		{"id of dots", `{"service":"a","id":"..","address":"h:1"}`, []string{`id ".." does not start with a letter or digit`}},
		{"service too long", `{"service":"` + strings.Repeat("s", 129) + `","id":"a-1","address":"h:1"}`, []string{"service is 129 bytes long"}},
		{"negative ttl", `{"service":"a","id":"a-1","address":"h:1","ttl_ms":-5}`, []string{"ttl_ms is -5", "500 to 300000"}},
		{"everything wrong at once", `{"ttl_ms":-1}`, []string{"service is empty", "id is empty", "address is empty", "ttl_ms is -1"}},
		{"body too large", `{"service":"a","id":"a-1","address":"h:1","meta":{"x":"` + strings.Repeat("x", 70<<10) + `"}}`, []string{"larger than"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, http.MethodPost, s.URL+"/v1/register", tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d (%s), want 400", a.status, a.body)
			}
			msg := errorOf(t, a)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
	if got := list(t, s, "a"); len(got.Instances) != 0 {
		t.Errorf("bad requests registered %v", ids(got))
	}
}

func TestBadQueriesAnswer400(t *testing.T) {
	s := start(t)
	cases := []struct{ name, query, want string }{
		{"index not a number", "index=abc", `index "abc" is not a whole number`},
		{"negative index", "index=-1", `index "-1" is not a whole number`},
		{"wait not a duration", "index=1&wait=soon", `wait "soon" is not a duration`},
		{"wait without a unit", "index=1&wait=10", `wait "10" is not a duration`},
		{"negative wait", "index=1&wait=-1s", `wait "-1s" is not a duration`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, http.MethodGet, s.URL+"/v1/services/accounts?"+tc.query, "")
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d (%s), want 400", a.status, a.body)
			}
			if msg := errorOf(t, a); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
		})
	}
}

func TestClientSurfacesTheFieldInItsError(t *testing.T) {
	s := start(t)
	_, err := s.Client.Register(ctx(t), discovery.Instance{Service: "accounts", ID: "accounts-1"}, 0)
	if err == nil || !strings.Contains(err.Error(), "address is empty: give host:port where callers reach the instance") {
		t.Fatalf("register without address: err = %v, want one naming address and its fix", err)
	}
}

func TestHeartbeatOfUnknownInstanceIsErrUnknownInstance(t *testing.T) {
	s := start(t)
	register(t, s, inst("accounts", "accounts-1"), 0)
	for _, tc := range []struct{ service, id string }{
		{"accounts", "accounts-2"}, // unknown id
		{"orders", "accounts-1"},   // known id, other service
		{"nothing", "x"},
	} {
		if _, err := s.Client.Heartbeat(ctx(t), tc.service, tc.id); !errors.Is(err, discovery.ErrUnknownInstance) {
			t.Errorf("heartbeat %s/%s: err = %v, want ErrUnknownInstance", tc.service, tc.id, err)
		}
	}
}

func TestHeartbeatRenewsWithoutChangingTheIndex(t *testing.T) {
	s := start(t)
	first := register(t, s, inst("accounts", "accounts-1"), 0)
	hb, err := s.Client.Heartbeat(ctx(t), "accounts", "accounts-1")
	if err != nil {
		t.Fatal(err)
	}
	if !hb.ExpiresAt.After(first.ExpiresAt) {
		t.Errorf("heartbeat lease expires %v, not after the registered one %v", hb.ExpiresAt, first.ExpiresAt)
	}
	if hb.Index != first.Index || hb.TTLMillis != first.TTLMillis {
		t.Errorf("heartbeat lease index %d ttl %d, want index %d ttl %d (a renewal is no change)", hb.Index, hb.TTLMillis, first.Index, first.TTLMillis)
	}
	if snap := list(t, s, "accounts"); snap.Index != first.Index {
		t.Errorf("snapshot index %d after a heartbeat, want %d", snap.Index, first.Index)
	}
}

func TestRegisterReplacesAndCountsOnlyChanges(t *testing.T) {
	s := start(t)
	in := inst("accounts", "accounts-1")
	first := register(t, s, in, 0)

	same := register(t, s, in, 0)
	if same.Index != first.Index {
		t.Errorf("identical re-register moved the index %d -> %d", first.Index, same.Index)
	}

	in.Address = "127.0.0.1:7777"
	moved := register(t, s, in, 0)
	if moved.Index <= first.Index {
		t.Errorf("re-register with a new address kept index %d, want > %d", moved.Index, first.Index)
	}
	snap := list(t, s, "accounts")
	if len(snap.Instances) != 1 || snap.Instances[0].Address != "127.0.0.1:7777" {
		t.Fatalf("after re-register: %+v, want one instance at 127.0.0.1:7777", snap.Instances)
	}
	if snap.Index != moved.Index {
		t.Errorf("snapshot index %d, want the re-register's %d", snap.Index, moved.Index)
	}
}

func TestRequestedTTLIsBounded(t *testing.T) {
	s := start(t, registry.WithTTL(2*time.Second))
	cases := []struct {
		name      string
		ask, want time.Duration
	}{
		{"none takes the default", 0, 2 * time.Second},
		{"too short is raised", time.Millisecond, registry.MinTTL},
		{"too long is lowered", time.Hour, registry.MaxTTL},
		{"in bounds is granted", 7 * time.Second, 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lease := register(t, s, inst("accounts", "accounts-1"), tc.ask)
			if lease.TTL() != tc.want {
				t.Errorf("asked %s, granted %s, want %s", tc.ask, lease.TTL(), tc.want)
			}
			if left := time.Until(lease.ExpiresAt); left > tc.want || left < tc.want-patience {
				t.Errorf("lease expires in %s, want about %s", left, tc.want)
			}
		})
	}
}

func TestDeregisterIsIdempotent(t *testing.T) {
	s := start(t)
	register(t, s, inst("accounts", "accounts-1"), 0)
	register(t, s, inst("accounts", "accounts-2"), 0)
	for range 2 {
		if err := s.Client.Deregister(ctx(t), "accounts", "accounts-1"); err != nil {
			t.Fatalf("deregister: %v", err)
		}
	}
	if err := s.Client.Deregister(ctx(t), "never", "seen"); err != nil {
		t.Fatalf("deregister of an unknown instance: %v", err)
	}
	if got := ids(list(t, s, "accounts")); len(got) != 1 || got[0] != "accounts-2" {
		t.Errorf("after deregister: %v, want [accounts-2]", got)
	}
}

func TestListsAreSortedAndNeverNull(t *testing.T) {
	s := start(t)
	for _, in := range []discovery.Instance{inst("orders", "o-2"), inst("accounts", "a-3"), inst("orders", "o-1"), inst("orders", "o-10")} {
		register(t, s, in, 0)
	}
	services, err := s.Client.Services(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(services.Services, ","); got != "accounts,orders" {
		t.Errorf("services %q, want accounts,orders", got)
	}
	if got := strings.Join(ids(list(t, s, "orders")), ","); got != "o-1,o-10,o-2" {
		t.Errorf("orders %q, want o-1,o-10,o-2 (sorted by id)", got)
	}

	a := call(t, http.MethodGet, s.URL+"/v1/services/"+url.PathEscape("nobody"), "")
	if a.status != http.StatusOK || !strings.Contains(a.body, `"instances":[]`) {
		t.Errorf("unknown service: %d %s, want 200 with \"instances\":[]", a.status, a.body)
	}
	if a.header.Get(discovery.IndexHeader) == "" {
		t.Errorf("no %s header on a read answer", discovery.IndexHeader)
	}
	if err := s.Client.Deregister(ctx(t), "accounts", "a-3"); err != nil {
		t.Fatal(err)
	}
	services, err = s.Client.Services(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(services.Services, ","); got != "orders" {
		t.Errorf("services %q after the last accounts left, want orders", got)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	s := start(t)
	register(t, s, inst("accounts", "accounts-1"), 0)
	if _, err := s.Client.Heartbeat(ctx(t), "accounts", "accounts-1"); err != nil {
		t.Fatal(err)
	}
	if a := call(t, http.MethodGet, s.URL+"/healthz", ""); a.status != http.StatusOK || strings.TrimSpace(a.body) != "ok" {
		t.Errorf("/healthz: %d %q, want 200 ok", a.status, a.body)
	}
	if a := call(t, http.MethodGet, s.URL+"/readyz", ""); a.status != http.StatusOK {
		t.Errorf("/readyz: %d %q, want 200", a.status, a.body)
	}
	for name, want := range map[string]float64{
		`registry_instances{service="accounts"}`:                    1,
		`registry_registrations_total{service="accounts"}`:          1,
		`registry_heartbeats_total{result="ok",service="accounts"}`: 1,
		`registry_watchers`: 0,
	} {
		if got := metric(t, s, name); got != want {
			t.Errorf("metric %s = %g, want %g", name, got, want)
		}
	}
	if a := call(t, http.MethodGet, s.URL+"/v2/nothing", ""); a.status != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", a.status)
	} else {
		errorOf(t, a)
	}
	a := call(t, http.MethodGet, s.URL+"/v1/register", "")
	if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/register: %d Allow %q, want 405 Allow POST", a.status, a.header.Get("Allow"))
	}
	errorOf(t, a)

	s.Registry.Close()
	if a := call(t, http.MethodGet, s.URL+"/readyz", ""); a.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz after Close: %d, want 503", a.status)
	}
	if _, err := s.Client.Register(ctx(t), inst("accounts", "accounts-2"), 0); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("register after Close: err = %v, want a 503", err)
	}
}

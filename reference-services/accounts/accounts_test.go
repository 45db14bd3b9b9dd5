package accounts_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/accounts"
	"github.com/faultline/faultline/reference-services/internal/apitest"
	"github.com/faultline/faultline/reference-services/internal/etcdtest"
	"github.com/faultline/faultline/reference-services/store"
)

func balance(t *testing.T, c *apitest.Client, id string) int64 {
	t.Helper()
	var a accounts.Account
	c.Must(http.StatusOK, "GET", "/v1/accounts/"+id, "", "").Decode(t, &a)
	return a.Balance
}

func start(t *testing.T, opts ...store.Option) (*apitest.Client, *etcdtest.Server) {
	t.Helper()
	srv := etcdtest.Start(t)
	st, err := store.Open([]string{srv.Endpoint()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := httptest.NewServer(accounts.Handler(st, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	return apitest.New(t, ts.URL), srv
}

func TestAccountsLifecycle(t *testing.T) {
	c, _ := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "Alice", "balance": 100}`)
	c.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "bob", "owner": "Bob"}`)
	if msg := c.Must(http.StatusConflict, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "A"}`).Error(t); !strings.Contains(msg, "already exists") {
		t.Errorf("duplicate create: %q", msg)
	}
	c.Must(http.StatusOK, "POST", "/v1/accounts/alice/deposit", "d1", `{"amount": 50}`)
	c.Must(http.StatusOK, "POST", "/v1/accounts/alice/withdraw", "w1", `{"amount": 30}`)
	if got := balance(t, c, "alice"); got != 120 {
		t.Errorf("alice's balance = %d, want 120", got)
	}
	var list accounts.AccountList
	c.Must(http.StatusOK, "GET", "/v1/accounts", "", "").Decode(t, &list)
	want := []accounts.Account{{ID: "alice", Owner: "Alice", Balance: 120}, {ID: "bob", Owner: "Bob"}}
	if fmt.Sprint(list.Accounts) != fmt.Sprint(want) {
		t.Errorf("list = %v, want %v", list.Accounts, want)
	}
	c.Must(http.StatusNotFound, "GET", "/v1/accounts/carol", "", "")
	c.Must(http.StatusNotFound, "POST", "/v1/accounts/carol/deposit", "d2", `{"amount": 5}`)
}

func TestBadRequestsNameTheFix(t *testing.T) {
	c, _ := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "Alice"}`)
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		mentions                      string
	}{
		{"missing id", "POST", "/v1/accounts", "", `{"owner": "A"}`, 400, `"id"`},
		{"missing owner", "POST", "/v1/accounts", "", `{"id": "x"}`, 400, `"owner"`},
		{"bad id", "POST", "/v1/accounts", "", `{"id": "a b", "owner": "A"}`, 400, `"id"`},
		{"negative balance", "POST", "/v1/accounts", "", `{"id": "x", "owner": "A", "balance": -1}`, 400, `"balance"`},
		{"unknown field", "POST", "/v1/accounts", "", `{"id": "x", "owner": "A", "colour": "red"}`, 400, `"colour"`},
		{"not JSON", "POST", "/v1/accounts", "", `{"id": `, 400, "JSON"},
		{"empty body", "POST", "/v1/accounts/alice/deposit", "k", ``, 400, "empty"},
		{"no key", "POST", "/v1/accounts/alice/deposit", "", `{"amount": 5}`, 400, "Idempotency-Key"},
		{"no amount", "POST", "/v1/accounts/alice/withdraw", "k", `{}`, 400, `"amount"`},
		{"zero amount", "POST", "/v1/accounts/alice/deposit", "k", `{"amount": 0}`, 400, `"amount"`},
		{"fractional amount", "POST", "/v1/accounts/alice/deposit", "k", `{"amount": 1.5}`, 400, `"amount"`},
		{"string amount", "POST", "/v1/accounts/alice/deposit", "k", `{"amount": "5"}`, 400, `"amount"`},
		{"wrong method", "DELETE", "/v1/accounts/alice", "", ``, 405, "GET"},
		{"no route", "GET", "/v2/nothing", "", ``, 404, "/v2/nothing"},
		{"cas without to", "POST", "/v1/kv/x/cas", "", `{"from": "1"}`, 400, `"to"`},
		{"put without value", "PUT", "/v1/kv/x", "", `{}`, 400, `"value"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Must(tc.status, tc.method, tc.path, tc.key, tc.body)
			if msg := r.Error(t); !strings.Contains(msg, tc.mentions) {
				t.Errorf("error %q does not mention %s", msg, tc.mentions)
			}
		})
	}
}

func TestDepositsAreAppliedOnceUnderRetries(t *testing.T) {
	c, _ := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "Alice", "balance": 10}`)
	const n = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		bodies   = map[string]int{}
		replayed int
	)
	for range n { // the same deposit delivered n times at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Do("POST", "/v1/accounts/alice/deposit", "dep-1", `{"amount": 7}`)
			mu.Lock()
			defer mu.Unlock()
			bodies[fmt.Sprintf("%d %s", r.Status, r.Body)]++
			if r.Header.Get("Idempotent-Replayed") == "true" {
				replayed++
			}
		}()
	}
	wg.Wait()
	for range 4 { // and again, one after another
		r := c.Must(http.StatusOK, "POST", "/v1/accounts/alice/deposit", "dep-1", `{"amount": 7}`)
		bodies[fmt.Sprintf("%d %s", r.Status, r.Body)]++
		replayed++
	}
	if got := balance(t, c, "alice"); got != 17 {
		t.Errorf("balance = %d after %d deliveries of one deposit of 7 onto 10, want 17", got, n+4)
	}
	if len(bodies) != 1 {
		t.Errorf("the deliveries got different answers: %v", bodies)
	}
	if replayed != n+4-1 {
		t.Errorf("%d answers marked replayed, want %d", replayed, n+4-1)
	}
	// A refusal replays as a refusal; a reused key with another body is refused.
	c.Must(http.StatusConflict, "POST", "/v1/accounts/alice/withdraw", "w-big", `{"amount": 1000}`)
	c.Must(http.StatusOK, "POST", "/v1/accounts/alice/deposit", "dep-2", `{"amount": 2000}`)
	c.Must(http.StatusConflict, "POST", "/v1/accounts/alice/withdraw", "w-big", `{"amount": 1000}`)
	c.Must(http.StatusUnprocessableEntity, "POST", "/v1/accounts/alice/withdraw", "dep-1", `{"amount": 7}`)
	if got := balance(t, c, "alice"); got != 2017 {
		t.Errorf("balance = %d, want 2017", got)
	}
}

func TestWithdrawalsNeverOverdraw(t *testing.T) {
	c, _ := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "Alice", "balance": 50}`)
	const n = 12 // 12 concurrent withdrawals of 10 from 50: exactly 5 succeed
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = c.Do("POST", "/v1/accounts/alice/withdraw", fmt.Sprintf("w-%d", i), `{"amount": 10}`).Status
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			refused++
		default:
			t.Errorf("withdrawal answered %d", s)
		}
	}
	if ok != 5 || refused != n-5 || balance(t, c, "alice") != 0 {
		t.Errorf("%d succeeded, %d refused, balance %d; want 5, %d, 0", ok, refused, balance(t, c, "alice"), n-5)
	}
}

func TestDeadEtcdAnswers503Fast(t *testing.T) {
	c, srv := start(t, store.WithRequestTimeout(time.Second))
	c.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "Alice"}`)
	srv.Kill()
	for _, tc := range []struct{ method, path, key, body string }{
		{"GET", "/v1/accounts/alice", "", ""},
		{"GET", "/v1/accounts", "", ""},
		{"POST", "/v1/accounts/alice/deposit", "k", `{"amount": 1}`},
		{"GET", "/v1/kv/x", "", ""},
		{"POST", "/v1/kv/x/cas", "", `{"from": "a", "to": "b"}`},
	} {
		start := time.Now()
		r := c.Must(http.StatusServiceUnavailable, tc.method, tc.path, tc.key, tc.body)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s %s: 503 after %s, want well under the client's 20 s", tc.method, tc.path, took)
		}
		if msg := r.Error(t); !strings.Contains(msg, "store unavailable") {
			t.Errorf("%s %s: error %q does not name the store", tc.method, tc.path, msg)
		}
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for c.Do("GET", "/v1/accounts/alice", "", "").Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("accounts did not recover within 30 s of etcd's restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

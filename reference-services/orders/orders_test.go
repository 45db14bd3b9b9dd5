package orders_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/accounts"
	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/internal/apitest"
	"github.com/faultline/faultline/reference-services/internal/etcdtest"
	"github.com/faultline/faultline/reference-services/inventory"
	"github.com/faultline/faultline/reference-services/orders"
	"github.com/faultline/faultline/reference-services/registry"
	"github.com/faultline/faultline/reference-services/store"
)

var quiet = slog.New(slog.DiscardHandler)

// system is orders with its two dependencies, each on its own etcd, found through a
// real registry.
type system struct {
	orders, accounts, inventory *apitest.Client
	accountsSrv                 *httptest.Server
	inventorySrv                *httptest.Server
	hangAccounts                atomic.Bool   // when set, accounts holds each call until unhang is closed
	unhang                      chan struct{} // then it serves it: the call is applied, its answer late
	unhangOnce                  sync.Once
	svc                         *orders.Service
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open([]string{etcdtest.Start(t).Endpoint()}, store.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// register serves h as an instance of service, kept registered by a Keeper.
func register(t *testing.T, reg *discovery.Client, service string, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	keeper := discovery.NewKeeper(reg, discovery.Instance{Service: service, ID: service + "-1", Address: ts.Listener.Addr().String()},
		discovery.WithLogger(quiet))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); keeper.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; ts.Close() })
	return ts
}

func start(t *testing.T, opts ...orders.Option) *system {
	t.Helper()
	reg, err := registry.Open(filepath.Join(t.TempDir(), "registry.db"), registry.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	regSrv := httptest.NewServer(reg.Handler())
	t.Cleanup(func() { regSrv.Close(); reg.Close() })
	regClient := discovery.NewClient(regSrv.URL)

	s := &system{unhang: make(chan struct{})}
	acc := accounts.Handler(openStore(t), quiet)
	s.accountsSrv = register(t, regClient, "accounts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hangAccounts.Load() {
			<-s.unhang
		}
		acc.ServeHTTP(w, r)
	}))
	s.inventorySrv = register(t, regClient, "inventory", inventory.Handler(openStore(t), quiet))
	t.Cleanup(s.release) // runs before the servers close: a held call must not block their Close

	res := discovery.NewResolver(regClient, discovery.WithResolverLogger(quiet), discovery.WithWatchWait(2*time.Second))
	t.Cleanup(res.Close)
	for _, svc := range []string{"accounts", "inventory"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			insts, err := res.Instances(context.Background(), svc)
			if err == nil && len(insts) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not resolvable within 30 s: %v", svc, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A generous call timeout: a busy machine must not turn a slow answer into a pending order.
	s.svc = orders.New(openStore(t), res, append([]orders.Option{orders.WithLogger(quiet), orders.WithCallTimeout(3 * time.Second)}, opts...)...)
	ordersSrv := httptest.NewServer(s.svc.Handler())
	t.Cleanup(ordersSrv.Close)
	s.orders = apitest.New(t, ordersSrv.URL)
	s.accounts = apitest.New(t, s.accountsSrv.URL)
	s.inventory = apitest.New(t, s.inventorySrv.URL)
	s.accounts.Must(http.StatusCreated, "POST", "/v1/accounts", "", `{"id": "alice", "owner": "Alice", "balance": 100}`)
	s.inventory.Must(http.StatusCreated, "POST", "/v1/items", "", `{"id": "widget", "name": "Widget", "stock": 5}`)
	return s
}

// release lets held accounts calls through.
func (s *system) release() { s.unhangOnce.Do(func() { close(s.unhang) }) }

func (s *system) balance(t *testing.T) int64 {
	t.Helper()
	var a accounts.Account
	s.accounts.Must(http.StatusOK, "GET", "/v1/accounts/alice", "", "").Decode(t, &a)
	return a.Balance
}

func (s *system) stock(t *testing.T) (stock, reserved int64) {
	t.Helper()
	var it inventory.Item
	s.inventory.Must(http.StatusOK, "GET", "/v1/items/widget", "", "").Decode(t, &it)
	return it.Stock, it.Reserved
}

// orderOf reads the order from a placement's answer: the body, or its "order" field.
func orderOf(t *testing.T, r apitest.Reply) orders.Order {
	t.Helper()
	var wrapped struct {
		Error string       `json:"error"`
		Order orders.Order `json:"order"`
	}
	r.Decode(t, &wrapped)
	if wrapped.Error != "" {
		return wrapped.Order
	}
	var o orders.Order
	r.Decode(t, &o)
	return o
}

func TestOrderSaga(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		name, key, body string
		status          int
		orderStatus     string
		reason          string // the rejection's reason mentions it
		balance         int64  // after the order
		stock, reserved int64
	}{
		{"confirmed", "o1", `{"account": "alice", "item": "widget", "qty": 2, "amount": 30}`, 201, orders.Confirmed, "", 70, 3, 2},
		{"replayed", "o1", `{"account": "alice", "item": "widget", "qty": 2, "amount": 30}`, 201, orders.Confirmed, "", 70, 3, 2},
		{"insufficient funds releases the stock", "o2", `{"account": "alice", "item": "widget", "qty": 1, "amount": 1000}`, 409, orders.Rejected, "insufficient funds", 70, 3, 2},
		{"out of stock debits nothing", "o3", `{"account": "alice", "item": "widget", "qty": 4, "amount": 1}`, 409, orders.Rejected, "out of stock", 70, 3, 2},
		{"unknown account releases the stock", "o4", `{"account": "bob", "item": "widget", "qty": 1, "amount": 1}`, 409, orders.Rejected, "bob", 70, 3, 2},
		{"unknown item", "o5", `{"account": "alice", "item": "gadget", "qty": 1, "amount": 1}`, 409, orders.Rejected, "gadget", 70, 3, 2},
		{"rejection replayed", "o2", `{"account": "alice", "item": "widget", "qty": 1, "amount": 1000}`, 409, orders.Rejected, "insufficient funds", 70, 3, 2},
		{"without a key", "", `{"account": "alice", "item": "widget", "qty": 1, "amount": 10}`, 201, orders.Confirmed, "", 60, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.orders.Must(tc.status, "POST", "/v1/orders", tc.key, tc.body)
			o := orderOf(t, r)
			if o.Status != tc.orderStatus || !strings.Contains(o.Reason, tc.reason) {
				t.Errorf("order %+v, want status %s with a reason naming %q", o, tc.orderStatus, tc.reason)
			}
			if tc.key != "" && o.IdempotencyKey != tc.key {
				t.Errorf("order key %q, want %q", o.IdempotencyKey, tc.key)
			}
			var stored orders.Order
			s.orders.Must(http.StatusOK, "GET", "/v1/orders/"+o.ID, "", "").Decode(t, &stored)
			if stored.Status != o.Status || stored.Reason != o.Reason {
				t.Errorf("GET answers %+v, the placement %+v", stored, o)
			}
			if b := s.balance(t); b != tc.balance {
				t.Errorf("balance %d, want %d", b, tc.balance)
			}
			if st, res := s.stock(t); st != tc.stock || res != tc.reserved {
				t.Errorf("stock %d reserved %d, want %d and %d", st, res, tc.stock, tc.reserved)
			}
		})
	}
	t.Run("key reused for another order", func(t *testing.T) {
		s.orders.Must(http.StatusUnprocessableEntity, "POST", "/v1/orders", "o1", `{"account": "alice", "item": "widget", "qty": 1, "amount": 1}`)
	})
	t.Run("bad requests name the fix", func(t *testing.T) {
		for body, field := range map[string]string{
			`{"item": "widget", "qty": 1, "amount": 1}`:                      `"account"`,
			`{"account": "alice", "qty": 1, "amount": 1}`:                    `"item"`,
			`{"account": "alice", "item": "widget", "amount": 1}`:            `"qty"`,
			`{"account": "alice", "item": "widget", "qty": 1}`:               `"amount"`,
			`{"account": "alice", "item": "widget", "qty": 0, "amount": 1}`:  `"qty"`,
			`{"account": "alice", "item": "widget", "qty": 1, "amount": -5}`: `"amount"`,
		} {
			if msg := s.orders.Must(http.StatusBadRequest, "POST", "/v1/orders", "", body).Error(t); !strings.Contains(msg, field) {
				t.Errorf("%s: error %q does not name %s", body, msg, field)
			}
		}
		s.orders.Must(http.StatusNotFound, "GET", "/v1/orders/o-nothing", "", "")
	})
}

func TestConcurrentRetriesOfOneOrderApplyOnce(t *testing.T) {
	s := start(t)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.orders.Do("POST", "/v1/orders", "same", `{"account": "alice", "item": "widget", "qty": 1, "amount": 25}`).Status
		}()
	}
	wg.Wait()
	for _, st := range statuses {
		if st != http.StatusCreated && st != http.StatusAccepted {
			t.Errorf("a delivery answered %d, want 201 (or 202 while another ran it)", st)
		}
	}
	// Once every delivery is in, the order is confirmed once.
	r := s.orders.Must(http.StatusCreated, "POST", "/v1/orders", "same", `{"account": "alice", "item": "widget", "qty": 1, "amount": 25}`)
	if o := orderOf(t, r); o.Status != orders.Confirmed {
		t.Errorf("order %+v", o)
	}
	if b := s.balance(t); b != 75 {
		t.Errorf("balance %d after %d deliveries of one order of 25, want 75", b, n)
	}
	if st, res := s.stock(t); st != 4 || res != 1 {
		t.Errorf("stock %d reserved %d, want 4 and 1", st, res)
	}
}

func TestUnreachableDependencies(t *testing.T) {
	t.Run("accounts down: stock released, order rejected, 503 naming accounts", func(t *testing.T) {
		s := start(t)
		s.accountsSrv.Close() // still registered: calls are refused
		start := time.Now()
		r := s.orders.Must(http.StatusServiceUnavailable, "POST", "/v1/orders", "k1", `{"account": "alice", "item": "widget", "qty": 2, "amount": 10}`)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("503 after %s, want it fast", took)
		}
		if msg := r.Error(t); !strings.Contains(msg, "accounts unavailable") {
			t.Errorf("error %q does not name accounts", msg)
		}
		if got := r.Header.Get(httpjson.DependencyHeader); got != "accounts" {
			t.Errorf("%s = %q, want accounts", httpjson.DependencyHeader, got)
		}
		if o := orderOf(t, r); o.Status != orders.Rejected {
			t.Errorf("order %+v, want rejected", o)
		}
		if st, res := s.stock(t); st != 5 || res != 0 {
			t.Errorf("stock %d reserved %d, want 5 and 0 (released)", st, res)
		}
	})
	t.Run("inventory down: nothing debited, 503 naming inventory", func(t *testing.T) {
		s := start(t)
		s.inventorySrv.Close()
		r := s.orders.Must(http.StatusServiceUnavailable, "POST", "/v1/orders", "k1", `{"account": "alice", "item": "widget", "qty": 2, "amount": 10}`)
		if msg := r.Error(t); !strings.Contains(msg, "inventory unavailable") {
			t.Errorf("error %q does not name inventory", msg)
		}
		if got := r.Header.Get(httpjson.DependencyHeader); got != "inventory" {
			t.Errorf("%s = %q, want inventory: the failure is the dependency's, not this instance's", httpjson.DependencyHeader, got)
		}
		if b := s.balance(t); b != 100 {
			t.Errorf("balance %d, want 100 (no debit)", b)
		}
	})
}

func TestPendingOrdersAreResumed(t *testing.T) {
	s := start(t, orders.WithResumeInterval(300*time.Millisecond))
	s.hangAccounts.Store(true) // the debit is applied, but its answer comes too late
	r := s.orders.Must(http.StatusServiceUnavailable, "POST", "/v1/orders", "k1", `{"account": "alice", "item": "widget", "qty": 2, "amount": 10}`)
	o := orderOf(t, r)
	if o.Status != orders.Pending || !strings.Contains(r.Error(t), "accounts") {
		t.Fatalf("order %+v, error %q: want pending, waiting for accounts", o, r.Error(t))
	}
	s.hangAccounts.Store(false)
	s.release() // the held debit goes through now, long after orders gave up on it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.svc.Resume(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got orders.Order
		s.orders.Must(http.StatusOK, "GET", "/v1/orders/"+o.ID, "", "").Decode(t, &got)
		if got.Status == orders.Confirmed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %s after 30 s: %+v", got.Status, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b := s.balance(t); b != 90 {
		t.Errorf("balance %d, want 90: debited once", b)
	}
	if st, res := s.stock(t); st != 3 || res != 2 {
		t.Errorf("stock %d reserved %d, want 3 and 2", st, res)
	}
	// A retry of the placement sees the finished order.
	s.orders.Must(http.StatusCreated, "POST", "/v1/orders", "k1", `{"account": "alice", "item": "widget", "qty": 2, "amount": 10}`)
}

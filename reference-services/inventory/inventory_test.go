package inventory_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/faultline/faultline/reference-services/internal/apitest"
	"github.com/faultline/faultline/reference-services/internal/etcdtest"
	"github.com/faultline/faultline/reference-services/inventory"
	"github.com/faultline/faultline/reference-services/store"
)

func start(t *testing.T) *apitest.Client {
	t.Helper()
	srv := etcdtest.Start(t)
	st, err := store.Open([]string{srv.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := httptest.NewServer(inventory.Handler(st, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	return apitest.New(t, ts.URL)
}

func item(t *testing.T, c *apitest.Client, id string) inventory.Item {
	t.Helper()
	var it inventory.Item
	c.Must(http.StatusOK, "GET", "/v1/items/"+id, "", "").Decode(t, &it)
	return it
}

func TestReserveAndRelease(t *testing.T) {
	c := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/items", "", `{"id": "widget", "name": "Widget", "stock": 5}`)
	c.Must(http.StatusConflict, "POST", "/v1/items", "", `{"id": "widget", "name": "W", "stock": 1}`)
	for _, tc := range []struct {
		name, op, key, body string
		status              int
		want                inventory.Item
	}{
		{"reserve", "reserve", "r1", `{"qty": 3}`, 200, inventory.Item{Stock: 2, Reserved: 3}},
		{"replayed reserve", "reserve", "r1", `{"qty": 3}`, 200, inventory.Item{Stock: 2, Reserved: 3}},
		{"reserve past stock", "reserve", "r2", `{"qty": 3}`, 409, inventory.Item{Stock: 2, Reserved: 3}},
		{"release", "release", "l1", `{"qty": 1}`, 200, inventory.Item{Stock: 3, Reserved: 2}},
		{"release past reserved", "release", "l2", `{"qty": 5}`, 409, inventory.Item{Stock: 3, Reserved: 2}},
		{"reserve all", "reserve", "r3", `{"qty": 3}`, 200, inventory.Item{Stock: 0, Reserved: 5}},
		{"refusal replays", "reserve", "r2", `{"qty": 3}`, 409, inventory.Item{Stock: 0, Reserved: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Must(tc.status, "POST", "/v1/items/widget/"+tc.op, tc.key, tc.body)
			if tc.status == http.StatusConflict && !strings.Contains(r.Error(t), "widget") {
				t.Errorf("refusal %q does not name the item", r.Error(t))
			}
			got := item(t, c, "widget")
			if got.Stock != tc.want.Stock || got.Reserved != tc.want.Reserved {
				t.Errorf("stock %d reserved %d, want %d and %d", got.Stock, got.Reserved, tc.want.Stock, tc.want.Reserved)
			}
		})
	}
	var list inventory.ItemList
	c.Must(http.StatusOK, "GET", "/v1/items", "", "").Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "Widget" {
		t.Errorf("list = %+v", list.Items)
	}
}

func TestBadRequestsNameTheFix(t *testing.T) {
	c := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/items", "", `{"id": "widget", "name": "Widget", "stock": 5}`)
	for _, tc := range []struct {
		name, path, key, body string
		status                int
		mentions              string
	}{
		{"no stock", "/v1/items", "", `{"id": "x", "name": "X"}`, 400, `"stock"`},
		{"negative stock", "/v1/items", "", `{"id": "x", "name": "X", "stock": -1}`, 400, `"stock"`},
		{"no name", "/v1/items", "", `{"id": "x", "stock": 1}`, 400, `"name"`},
		{"no key", "/v1/items/widget/reserve", "", `{"qty": 1}`, 400, "Idempotency-Key"},
		{"no qty", "/v1/items/widget/release", "k", `{}`, 400, `"qty"`},
		{"zero qty", "/v1/items/widget/reserve", "k", `{"qty": 0}`, 400, `"qty"`},
		{"unknown item", "/v1/items/gadget/reserve", "k", `{"qty": 1}`, 404, "gadget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := c.Must(tc.status, "POST", tc.path, tc.key, tc.body).Error(t); !strings.Contains(msg, tc.mentions) {
				t.Errorf("error %q does not mention %s", msg, tc.mentions)
			}
		})
	}
}

func TestConcurrentReservationsNeverOversell(t *testing.T) {
	c := start(t)
	c.Must(http.StatusCreated, "POST", "/v1/items", "", `{"id": "widget", "name": "Widget", "stock": 7}`)
	const n = 12 // each reserves 1 twice under the same key: 7 succeed, 5 refused
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("r-%d", i)
			first := c.Do("POST", "/v1/items/widget/reserve", key, `{"qty": 1}`).Status
			if again := c.Do("POST", "/v1/items/widget/reserve", key, `{"qty": 1}`).Status; again != first {
				t.Errorf("reservation %d answered %d, then %d on retry", i, first, again)
			}
			statuses[i] = first
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	got := item(t, c, "widget")
	if ok != 7 || got.Stock != 0 || got.Reserved != 7 {
		t.Errorf("%d reservations succeeded, stock %d reserved %d; want 7, 0, 7", ok, got.Stock, got.Reserved)
	}
}

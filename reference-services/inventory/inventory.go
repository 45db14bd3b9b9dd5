package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"

	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/store"
)

// Item is an item as the API shows it.
type Item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Stock is the number of units available to reserve.
	Stock int64 `json:"stock"`
	// Reserved is the number of units reserved and not released; Stock + Reserved only
	// changes when the item is created.
	Reserved int64 `json:"reserved"`
}

const itemPrefix = "/items/"

type service struct {
	st  *store.Store
	log *slog.Logger
}

// Handler returns the inventory API over st. log receives server-side failures.
func Handler(st *store.Store, log *slog.Logger) http.Handler {
	s := &service{st: st, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/items", s.create)
	mux.HandleFunc("GET /v1/items", s.list)
	mux.HandleFunc("GET /v1/items/{id}", s.get)
	mux.HandleFunc("POST /v1/items/{id}/reserve", s.change(true))
	mux.HandleFunc("POST /v1/items/{id}/release", s.change(false))
	return httpjson.Routes(mux)
}

func (s *service) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpjson.Fail(s.log, w, r, err)
}

func answer(w http.ResponseWriter, res store.Result) {
	httpjson.WriteStored(w, res.Status, res.Body, res.Replayed)
}

type createRequest struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Stock *int64 `json:"stock"`
}

func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	const example = `{"id": "widget", "name": "Widget", "stock": 10}`
	switch {
	case req.ID == "":
		s.fail(w, r, httpjson.Required("id", example))
		return
	case req.Name == "":
		s.fail(w, r, httpjson.Required("name", example))
		return
	case req.Stock == nil:
		s.fail(w, r, httpjson.Required("stock", example))
		return
	case *req.Stock < 0:
		s.fail(w, r, httpjson.Errorf(http.StatusBadRequest, "field \"stock\" must be >= 0, got %d", *req.Stock))
		return
	}
	if err := httpjson.CheckID("field \"id\"", req.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	key, err := httpjson.IdempotencyKey(r, false, "item creation")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	item := Item{ID: req.ID, Name: req.Name, Stock: *req.Stock}
	res, err := s.st.Apply(r.Context(), itemPrefix+item.ID, idem(key, r, req), func(cur store.Current) (store.Outcome, error) {
		if cur.Exists {
			return store.Outcome{}, httpjson.Errorf(http.StatusConflict, "item %q already exists: pick another id", item.ID)
		}
		return store.Outcome{Put: item, Status: http.StatusCreated, Body: item}, nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	answer(w, res)
}

func (s *service) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := httpjson.CheckID("item id", id); err != nil {
		s.fail(w, r, err)
		return
	}
	var item Item
	_, err := s.st.Get(r.Context(), itemPrefix+id, &item)
	if errors.Is(err, store.ErrNotFound) {
		err = httpjson.Errorf(http.StatusNotFound, "item %q not found", id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, item)
}

// ItemList is the answer of GET /v1/items.
type ItemList struct {
	Items []Item `json:"items"`
}

func (s *service) list(w http.ResponseWriter, r *http.Request) {
	out := ItemList{Items: []Item{}}
	err := s.st.List(r.Context(), itemPrefix, func(key string, value []byte) error {
		var it Item
		if err := json.Unmarshal(value, &it); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out.Items = append(out.Items, it)
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, out)
}

// change returns the handler of reservations (reserve true) and releases.
func (s *service) change(reserve bool) http.HandlerFunc {
	ops := "releases"
	if reserve {
		ops = "reservations"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := httpjson.ReadMutation(w, r, "item id", ops, "qty", `{"qty": 1}`, "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		id, qty := m.ID, m.N
		res, err := s.st.Apply(r.Context(), itemPrefix+id, store.Idempotency{Key: m.Key, Request: m.Request}, func(cur store.Current) (store.Outcome, error) {
			var item Item
			if !cur.Exists {
				return store.Outcome{}, httpjson.Errorf(http.StatusNotFound, "item %q not found", id)
			}
			if err := cur.Decode(&item); err != nil {
				return store.Outcome{}, err
			}
			refuse := func(format string, args ...any) (store.Outcome, error) {
				return store.Outcome{Status: http.StatusConflict, Body: httpjson.ErrorBody{Error: fmt.Sprintf(format, args...)}}, nil
			}
			switch {
			case reserve && item.Stock < qty:
				return refuse("out of stock: item %q has %d available, reservation of %d refused", id, item.Stock, qty)
			case !reserve && item.Reserved < qty:
				return refuse("release refused: item %q has %d reserved, fewer than %d", id, item.Reserved, qty)
			case !reserve && item.Stock > math.MaxInt64-qty:
				return refuse("release refused: item %q's stock would overflow", id)
			case reserve:
				item.Stock, item.Reserved = item.Stock-qty, item.Reserved+qty
			default:
				item.Stock, item.Reserved = item.Stock+qty, item.Reserved-qty
			}
			return store.Outcome{Put: item, Status: http.StatusOK, Body: item}, nil
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		answer(w, res)
	}
}

// idem names the request for the idempotency record: method, path and the decoded body.
func idem(key string, r *http.Request, body any) store.Idempotency {
	if key == "" {
		return store.Idempotency{}
	}
	return store.Idempotency{Key: key, Request: httpjson.Fingerprint(r, body)}
}

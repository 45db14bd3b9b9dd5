package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"

	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/store"
)

// Account is an account as the API shows it.
type Account struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	// Balance is in whole minor units (cents); never negative.
	Balance int64 `json:"balance"`
}

// Key prefixes in the service's etcd.
const (
	accountPrefix = "/accounts/"
	kvPrefix      = "/kv/"
)

type service struct {
	st  *store.Store
	log *slog.Logger
}

// Handler returns the accounts API over st. log receives server-side failures.
func Handler(st *store.Store, log *slog.Logger) http.Handler {
	s := &service{st: st, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/accounts", s.create)
	mux.HandleFunc("GET /v1/accounts", s.list)
	mux.HandleFunc("GET /v1/accounts/{id}", s.get)
	mux.HandleFunc("POST /v1/accounts/{id}/deposit", s.move(+1))
	mux.HandleFunc("POST /v1/accounts/{id}/withdraw", s.move(-1))
	mux.HandleFunc("GET /v1/kv/{key}", s.kvGet)
	mux.HandleFunc("PUT /v1/kv/{key}", s.kvPut)
	mux.HandleFunc("POST /v1/kv/{key}/cas", s.kvCAS)
	return httpjson.Routes(mux)
}

func (s *service) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpjson.Fail(s.log, w, r, err)
}

func answer(w http.ResponseWriter, res store.Result) {
	httpjson.WriteStored(w, res.Status, res.Body, res.Replayed)
}

type createRequest struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Balance *int64 `json:"balance"`
}

func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	const example = `{"id": "alice", "owner": "Alice", "balance": 100}`
	switch {
	case req.ID == "":
		s.fail(w, r, httpjson.Required("id", example))
		return
	case req.Owner == "":
		s.fail(w, r, httpjson.Required("owner", example))
		return
	case req.Balance != nil && *req.Balance < 0:
		s.fail(w, r, httpjson.Errorf(http.StatusBadRequest, "field \"balance\" must be >= 0 (whole cents), got %d", *req.Balance))
		return
	}
	if err := httpjson.CheckID("field \"id\"", req.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	key, err := httpjson.IdempotencyKey(r, false, "account creation")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	acct := Account{ID: req.ID, Owner: req.Owner}
	if req.Balance != nil {
		acct.Balance = *req.Balance
	}
	res, err := s.st.Apply(r.Context(), accountPrefix+acct.ID, idem(key, r, acct), func(cur store.Current) (store.Outcome, error) {
		if cur.Exists {
			return store.Outcome{}, httpjson.Errorf(http.StatusConflict, "account %q already exists: pick another id", acct.ID)
		}
		return store.Outcome{Put: acct, Status: http.StatusCreated, Body: acct}, nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	answer(w, res)
}

func (s *service) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := httpjson.CheckID("account id", id); err != nil {
		s.fail(w, r, err)
		return
	}
	acct, err := s.load(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, acct)
}

func (s *service) load(ctx context.Context, id string) (Account, error) {
	var acct Account
	if _, err := s.st.Get(ctx, accountPrefix+id, &acct); err != nil {
		if httpjson.Status(err) == http.StatusNotFound {
			return Account{}, httpjson.Errorf(http.StatusNotFound, "account %q not found", id)
		}
		return Account{}, err
	}
	return acct, nil
}

// AccountList is the answer of GET /v1/accounts.
type AccountList struct {
	Accounts []Account `json:"accounts"`
}

func (s *service) list(w http.ResponseWriter, r *http.Request) {
	out := AccountList{Accounts: []Account{}}
	err := s.st.List(r.Context(), accountPrefix, func(key string, value []byte) error {
		var a Account
		if err := json.Unmarshal(value, &a); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out.Accounts = append(out.Accounts, a)
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, out)
}

// move returns the handler of deposits (sign +1) and withdrawals (sign -1).
func (s *service) move(sign int64) http.HandlerFunc {
	op, ops := "deposit", "deposits"
	if sign < 0 {
		op, ops = "withdrawal", "withdrawals"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := httpjson.ReadMutation(w, r, "account id", ops, "amount", `{"amount": 100}`, " (whole cents)")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		id, amount := m.ID, m.N
		res, err := s.st.Apply(r.Context(), accountPrefix+id, store.Idempotency{Key: m.Key, Request: m.Request}, func(cur store.Current) (store.Outcome, error) {
			var acct Account
			if !cur.Exists {
				return store.Outcome{}, httpjson.Errorf(http.StatusNotFound, "account %q not found", id)
			}
			if err := cur.Decode(&acct); err != nil {
				return store.Outcome{}, err
			}
			switch {
			case sign < 0 && acct.Balance < amount:
				return store.Outcome{Status: http.StatusConflict, Body: httpjson.ErrorBody{
					Error: fmt.Sprintf("insufficient funds: account %q holds %d, %s of %d refused", id, acct.Balance, op, amount),
				}}, nil
			case sign > 0 && acct.Balance > math.MaxInt64-amount:
				return store.Outcome{Status: http.StatusConflict, Body: httpjson.ErrorBody{
					Error: fmt.Sprintf("balance overflow: account %q holds %d, %s of %d refused", id, acct.Balance, op, amount),
				}}, nil
			}
			acct.Balance += sign * amount
			return store.Outcome{Put: acct, Status: http.StatusOK, Body: acct}, nil
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		answer(w, res)
	}
}

// idem names the request for the idempotency record: method, path and the decoded body,
// so that a key reused for anything else is refused.
func idem(key string, r *http.Request, body any) store.Idempotency {
	if key == "" {
		return store.Idempotency{}
	}
	return store.Idempotency{Key: key, Request: httpjson.Fingerprint(r, body)}
}

package accounts

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/store"
)

// Register is one key of the key-value register, as the API shows it.
type Register struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Version counts the writes to the key since it was created (1 after the first).
	Version int64 `json:"version"`
}

func (s *service) kvKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	if err := httpjson.CheckID("register key", key); err != nil {
		s.fail(w, r, err)
		return "", false
	}
	return key, true
}

// kvGet is a linearizable read.
func (s *service) kvGet(w http.ResponseWriter, r *http.Request) {
	key, ok := s.kvKey(w, r)
	if !ok {
		return
	}
	var value string
	meta, err := s.st.Get(r.Context(), kvPrefix+key, &value)
	if errors.Is(err, store.ErrNotFound) {
		err = httpjson.Errorf(http.StatusNotFound, "register %q not found: PUT it first", key)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, Register{Key: key, Value: value, Version: meta.Version})
}

type putRequest struct {
	Value *string `json:"value"`
}

func (s *service) kvPut(w http.ResponseWriter, r *http.Request) {
	key, ok := s.kvKey(w, r)
	if !ok {
		return
	}
	var req putRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Value == nil {
		s.fail(w, r, httpjson.Required("value", `{"value": "42"}`))
		return
	}
	ikey, err := httpjson.IdempotencyKey(r, false, "register writes")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	value := *req.Value
	res, err := s.st.Apply(r.Context(), kvPrefix+key, idem(ikey, r, req), func(cur store.Current) (store.Outcome, error) {
		return store.Outcome{Put: value, Status: http.StatusOK, Body: Register{Key: key, Value: value, Version: cur.Version + 1}}, nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	answer(w, res)
}

type casRequest struct {
	From *string `json:"from"`
	To   *string `json:"to"`
}

func (s *service) kvCAS(w http.ResponseWriter, r *http.Request) {
	key, ok := s.kvKey(w, r)
	if !ok {
		return
	}
	var req casRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	const example = `{"from": "1", "to": "2"}`
	switch {
	case req.From == nil:
		s.fail(w, r, httpjson.Required("from", example))
		return
	case req.To == nil:
		s.fail(w, r, httpjson.Required("to", example))
		return
	}
	ikey, err := httpjson.IdempotencyKey(r, false, "compare-and-set")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, to := *req.From, *req.To
	res, err := s.st.Apply(r.Context(), kvPrefix+key, idem(ikey, r, req), func(cur store.Current) (store.Outcome, error) {
		if !cur.Exists {
			return store.Outcome{}, httpjson.Errorf(http.StatusNotFound, "register %q not found: PUT it first", key)
		}
		var value string
		if err := cur.Decode(&value); err != nil {
			return store.Outcome{}, err
		}
		if value != from {
			return store.Outcome{Status: http.StatusConflict, Body: httpjson.ErrorBody{
				Error: fmt.Sprintf("compare-and-set refused: register %q holds %q, not %q", key, value, from),
			}}, nil
		}
		return store.Outcome{Put: to, Status: http.StatusOK, Body: Register{Key: key, Value: to, Version: cur.Version + 1}}, nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	answer(w, res)
}

package orders

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/store"
)

// Order statuses.
const (
	// Pending: the order is being processed, or a step's outcome is not known yet; the
	// resume loop finishes it.
	Pending = "pending"
	// Confirmed: stock reserved and account debited.
	Confirmed = "confirmed"
	// Rejected: nothing is held for the order (its stock, if reserved, was released).
	Rejected = "rejected"
)

// Order is an order as the API shows it.
type Order struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Item    string `json:"item"`
	Qty     int64  `json:"qty"`
	// Amount is debited from the account, in whole minor units (cents).
	Amount int64  `json:"amount"`
	Status string `json:"status"`
	// Reason says why the order was rejected, or what it waits for while pending.
	Reason string `json:"reason,omitempty"`
	// IdempotencyKey is the key the order was placed with (generated when none was given).
	IdempotencyKey string    `json:"idempotency_key"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// record is an order as stored: the saga's log.
type record struct {
	Order
	// Request fingerprints the placing request: the key reused for another is refused.
	Request string `json:"request"`
	// Compensating: the order is decided rejected; its stock must be released first.
	Compensating bool `json:"compensating,omitempty"`
	// Answer is the status code a rejected order answers with (409 refused, 503 a
	// dependency was unreachable).
	Answer int `json:"answer,omitempty"`
	// FailedDependency names the dependency whose failure rejected the order (with Answer
	// 503), "" when the order itself was refused.
	FailedDependency string `json:"failed_dependency,omitempty"`
	// Owner and LeaseUntil say which replica is running the saga, so that only one does.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitempty"`
}

// Key prefixes in the service's etcd.
const (
	orderPrefix   = "/orders/"
	pendingPrefix = "/pending/"
)

// Service is the orders service.
type Service struct {
	st       *store.Store
	call     *caller
	log      *slog.Logger
	owner    string
	lease    time.Duration
	interval time.Duration
	now      func() time.Time
	// noRelease breaks the saga on purpose: a rejected order keeps its stock reserved.
	noRelease bool
}

// Option customises a Service.
type Option func(*Service)

// WithCallTimeout bounds each call to a dependency (default 1 s).
func WithCallTimeout(d time.Duration) Option { return func(s *Service) { s.call.timeout = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithOwner names this replica in the leases it takes on orders (default a random name;
// give the instance id).
func WithOwner(id string) Option { return func(s *Service) { s.owner = id } }

// WithResumeInterval sets how often Resume looks for pending orders to finish, and how
// long an order must have been left pending before it does (default 5 s).
func WithResumeInterval(d time.Duration) Option { return func(s *Service) { s.interval = d } }

// WithoutCompensation breaks the saga on purpose, for the experiments that must notice
// (ORDERS_COMPENSATE=off): an order rejected after its stock was reserved is rejected
// without releasing the stock. Never use it otherwise.
func WithoutCompensation() Option { return func(s *Service) { s.noRelease = true } }

// WithHTTPClient sets the client used to call dependencies.
func WithHTTPClient(hc *http.Client) Option { return func(s *Service) { s.call.hc = hc } }

// New returns the orders service over its store st, finding accounts and inventory
// instances through find (a *discovery.Resolver in production).
func New(st *store.Store, find Finder, opts ...Option) *Service {
	s := &Service{
		st:       st,
		log:      slog.Default(),
		owner:    "orders-" + rand.Text()[:8],
		lease:    30 * time.Second,
		interval: 5 * time.Second,
		now:      time.Now,
		call: &caller{
			find:    find,
			timeout: time.Second,
			tries:   3,
			hc: &http.Client{Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     30 * time.Second,
			}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// budget bounds one run of the saga: three calls, each tried on up to tries instances.
func (s *Service) budget() time.Duration {
	return time.Duration(3*s.call.tries+2) * s.call.timeout
}

// Handler returns the orders API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/orders", s.place)
	mux.HandleFunc("GET /v1/orders/{id}", s.get)
	return httpjson.Routes(mux)
}

// orderID derives the order's id from its idempotency key, so that every retry of the
// same placement lands on the same order.
func orderID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "o-" + hex.EncodeToString(sum[:10])
}

type placeRequest struct {
	Account string `json:"account"`
	Item    string `json:"item"`
	Qty     *int64 `json:"qty"`
	Amount  *int64 `json:"amount"`
}

func (s *Service) place(w http.ResponseWriter, r *http.Request) {
	var req placeRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validate(req); err != nil {
		s.fail(w, r, err)
		return
	}
	key, err := httpjson.IdempotencyKey(r, false, "orders")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(key) > httpjson.MaxIdempotencyKeyLen-len("/release") {
		s.fail(w, r, httpjson.Errorf(http.StatusBadRequest, "header %q is %d characters long: use at most %d", httpjson.IdempotencyKeyHeader, len(key), httpjson.MaxIdempotencyKeyLen-len("/release")))
		return
	}
	if key == "" {
		key = rand.Text()
	}
	b, _ := json.Marshal(req)
	rec := record{
		Order: Order{
			ID: orderID(key), Account: req.Account, Item: req.Item, Qty: *req.Qty, Amount: *req.Amount,
			Status: Pending, IdempotencyKey: key,
		},
		Request: string(b),
	}
	got, claimed, err := s.claim(r.Context(), rec, true, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !claimed {
		if got.Status != Pending {
			w.Header().Set(httpjson.ReplayedHeader, "true")
		}
		s.answer(w, got, nil)
		return
	}
	// Finish the saga even if the caller goes away: a half-run order would wait for Resume.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.budget())
	defer cancel()
	final, stepErr := s.run(ctx, got)
	s.answer(w, final, stepErr)
}

func validate(req placeRequest) error {
	const example = `{"account": "alice", "item": "widget", "qty": 1, "amount": 250}`
	switch {
	case req.Account == "":
		return httpjson.Required("account", example)
	case req.Item == "":
		return httpjson.Required("item", example)
	case req.Qty == nil:
		return httpjson.Required("qty", example)
	case req.Amount == nil:
		return httpjson.Required("amount", example)
	case *req.Qty <= 0:
		return httpjson.Errorf(http.StatusBadRequest, "field \"qty\" must be > 0, got %d", *req.Qty)
	case *req.Amount <= 0:
		return httpjson.Errorf(http.StatusBadRequest, "field \"amount\" must be > 0 (whole cents), got %d", *req.Amount)
	}
	if err := httpjson.CheckID("field \"account\"", req.Account); err != nil {
		return err
	}
	return httpjson.CheckID("field \"item\"", req.Item)
}

// rejectedBody is the answer of an order that is not confirmed.
type rejectedBody struct {
	Error string `json:"error"`
	Order Order  `json:"order"`
}

// answer writes the answer an order's state calls for; stepErr is what left it pending.
func (s *Service) answer(w http.ResponseWriter, rec record, stepErr error) {
	switch {
	case rec.Status == Confirmed:
		httpjson.Write(w, http.StatusCreated, rec.Order)
	case rec.Status == Rejected:
		if rec.FailedDependency != "" {
			w.Header().Set(httpjson.DependencyHeader, rec.FailedDependency)
		}
		httpjson.Write(w, rec.Answer, rejectedBody{Error: "order rejected: " + rec.Reason, Order: rec.Order})
	case stepErr != nil:
		if dep := (*depError)(nil); errors.As(stepErr, &dep) {
			w.Header().Set(httpjson.DependencyHeader, dep.service)
		}
		msg := fmt.Sprintf("order %s is pending: %v; it will be finished when its dependencies answer, or retry with the same Idempotency-Key", rec.ID, stepErr)
		httpjson.Write(w, httpjson.Status(stepErr), rejectedBody{Error: msg, Order: rec.Order})
	default: // another replica is running it
		httpjson.Write(w, http.StatusAccepted, rec.Order)
	}
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := httpjson.CheckID("order id", id); err != nil {
		s.fail(w, r, err)
		return
	}
	var rec record
	_, err := s.st.Get(r.Context(), orderPrefix+id, &rec)
	if errors.Is(err, store.ErrNotFound) {
		err = httpjson.Errorf(http.StatusNotFound, "order %q not found", id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, rec.Order)
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpjson.Fail(s.log, w, r, err)
}

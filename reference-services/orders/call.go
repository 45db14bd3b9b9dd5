package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/httpjson"
)

// Finder lists the live instances of a service; *discovery.Resolver is one.
type Finder interface {
	Instances(ctx context.Context, service string) ([]discovery.Instance, error)
}

// depError says that a dependency gave no answer that could be acted on.
type depError struct {
	service string
	// applied is false when the call certainly changed nothing (no instance, connection
	// refused, a refusal to even try), true when it may have been applied.
	maybeApplied bool
	err          error
}

func (e *depError) Error() string {
	if e.maybeApplied {
		return fmt.Sprintf("%s unavailable (outcome unknown): %v", e.service, e.err)
	}
	return fmt.Sprintf("%s unavailable: %v", e.service, e.err)
}
func (e *depError) Unwrap() error   { return e.err }
func (e *depError) HTTPStatus() int { return http.StatusServiceUnavailable }

// caller calls dependencies: round robin over the instances a Finder lists, trying
// another instance when one fails, each try bounded by timeout.
type caller struct {
	find    Finder
	hc      *http.Client
	timeout time.Duration
	tries   int

	mu   sync.Mutex
	next map[string]*atomic.Uint64
}

// reply is a dependency's answer.
type reply struct {
	status int
	body   []byte
}

// errorText returns the {"error"} of the reply, or its raw body.
func (r reply) errorText() string {
	var e httpjson.ErrorBody
	if json.Unmarshal(r.body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(r.body))
}

func (c *caller) counter(service string) *atomic.Uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = map[string]*atomic.Uint64{}
	}
	n, ok := c.next[service]
	if !ok {
		n = new(atomic.Uint64)
		c.next[service] = n
	}
	return n
}

// post sends body to path on an instance of service with the Idempotency-Key key and
// returns the first answer below 500. Because the key makes the call idempotent, a try
// that fails in any way is retried on the next instance.
func (c *caller) post(ctx context.Context, service, path, key string, body any) (reply, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return reply{}, fmt.Errorf("encode call to %s: %w", service, err)
	}
	lctx, cancel := context.WithTimeout(ctx, c.timeout)
	insts, err := c.find.Instances(lctx, service)
	cancel()
	if err != nil {
		return reply{}, &depError{service: service, err: err}
	}
	if len(insts) == 0 {
		return reply{}, &depError{service: service, err: errors.New("no instance registered")}
	}
	start := c.counter(service).Add(1)
	var errs []error
	maybe := false
	for i := range min(len(insts), c.tries) {
		inst := insts[(int(start)+i)%len(insts)]
		r, err := c.try(ctx, inst, path, key, payload)
		switch {
		case err == nil && r.status < 500:
			return r.reply, nil
		case err != nil:
			maybe = maybe || !refused(err)
			errs = append(errs, fmt.Errorf("%s: %w", inst.ID, err))
		default:
			// A 5xx applied nothing unless the service says it may have.
			maybe = maybe || r.unknownOutcome
			errs = append(errs, fmt.Errorf("%s answered %d: %s", inst.ID, r.status, r.errorText()))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return reply{}, &depError{service: service, maybeApplied: maybe, err: errors.Join(errs...)}
}

type answer struct {
	reply
	unknownOutcome bool
}

func (c *caller) try(ctx context.Context, inst discovery.Instance, path, key string, payload []byte) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+inst.Address+path, bytes.NewReader(payload))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpjson.IdempotencyKeyHeader, key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("read answer: %w", err)
	}
	return answer{
		reply:          reply{status: resp.StatusCode, body: b},
		unknownOutcome: resp.Header.Get(httpjson.OutcomeHeader) == "unknown",
	}, nil
}

// refused tells whether err means the request never reached the instance.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

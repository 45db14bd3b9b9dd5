package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// kindError is a sentinel error that carries the HTTP status it answers with, so that
// handlers can write it without knowing the store (see httpjson.Status).
type kindError struct {
	msg     string
	status  int
	unknown bool
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) HTTPStatus() int      { return e.status }
func (e *kindError) OutcomeUnknown() bool { return e.unknown }

var (
	// ErrUnavailable means etcd could not be reached or did not answer in time; nothing
	// was written. It answers 503.
	ErrUnavailable error = &kindError{msg: "store unavailable", status: http.StatusServiceUnavailable}
	// ErrOutcomeUnknown means etcd failed while committing a write: it may or may not have
	// been applied. Retrying with the same Idempotency-Key finds out. It answers 503, and
	// errors.Is(err, ErrUnavailable) holds for it too.
	ErrOutcomeUnknown error = &kindError{msg: "store unavailable while committing; the write may or may not have been applied", status: http.StatusServiceUnavailable, unknown: true}
	// ErrNotFound means the key holds nothing. It answers 404.
	ErrNotFound error = &kindError{msg: "not found", status: http.StatusNotFound}
	// ErrKeyReused means an Idempotency-Key came back with a different request than the one
	// it was first used for. It answers 422.
	ErrKeyReused error = &kindError{msg: "Idempotency-Key was already used for a different request: use a new key for a new operation", status: http.StatusUnprocessableEntity}
)

// Is makes ErrOutcomeUnknown match ErrUnavailable as well.
func (e *kindError) Is(target error) bool {
	return e == target || (e.unknown && target == ErrUnavailable)
}

// classify wraps an error of the etcd client with op and, when it means etcd is out of
// reach, with ErrUnavailable (or ErrOutcomeUnknown when committing).
func classify(op string, err error, committing bool) error {
	if err == nil {
		return nil
	}
	sentinel := ErrUnavailable
	if committing {
		sentinel = ErrOutcomeUnknown
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %s: %w", sentinel, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, clientv3.ErrNoAvailableEndpoints) {
		return true
	}
	code := status.Code(err)
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	}
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.ResourceExhausted:
		return true
	}
	return false
}

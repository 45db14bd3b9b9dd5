package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
)

// Ack says when a write is acknowledged.
type Ack int

const (
	// AckAfterCommit acknowledges a write only once etcd has committed it: an answer of
	// success survives any crash of the service. The default, and the only safe choice.
	AckAfterCommit Ack = iota
	// AckBeforeCommit answers first and writes later, through an in-memory queue: a crash
	// loses every write still queued although its caller was told it succeeded. UNSAFE:
	// it exists only so that the resilience suites can prove they detect lost
	// acknowledged writes. Never use it for anything else.
	AckBeforeCommit
)

// String returns the name ParseAck reads.
func (a Ack) String() string {
	if a == AckBeforeCommit {
		return "before-commit"
	}
	return "after-commit"
}

// ParseAck reads "after-commit" or "before-commit".
func ParseAck(s string) (Ack, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "after-commit", "":
		return AckAfterCommit, nil
	case "before-commit":
		return AckBeforeCommit, nil
	}
	return AckAfterCommit, fmt.Errorf("%q is not an acknowledgement mode: use after-commit (safe, the default) or before-commit (unsafe, for proving the checkers)", s)
}

// Store is one service's connection to its own etcd. It is safe for concurrent use.
type Store struct {
	cli        *clientv3.Client
	timeout    time.Duration
	ack        Ack
	idemPrefix string
	log        *slog.Logger
	later      *writeBehind
}

type settings struct {
	timeout    time.Duration
	ack        Ack
	idemPrefix string
	log        *slog.Logger
	lag        time.Duration
}

// Option customises a Store.
type Option func(*settings)

// WithRequestTimeout bounds each operation, retries on conflict included (default 2 s).
// It is how long a caller waits before a dead etcd turns into ErrUnavailable.
func WithRequestTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithAck sets when writes are acknowledged (default AckAfterCommit). See AckBeforeCommit
// before changing it.
func WithAck(a Ack) Option { return func(s *settings) { s.ack = a } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// WithIdempotencyPrefix sets the key prefix under which idempotency records are kept
// (default "/idempotency/").
func WithIdempotencyPrefix(p string) Option { return func(s *settings) { s.idemPrefix = p } }

// WithWriteBehindLag sets how long AckBeforeCommit holds a write in memory before it
// writes it (default 100 ms), the window in which a crash loses it.
func WithWriteBehindLag(d time.Duration) Option { return func(s *settings) { s.lag = d } }

// Open returns a Store over the etcd cluster at endpoints (host:port or URLs). It does not
// wait for etcd: a service starts and serves (answering 503) while its store is down.
func Open(endpoints []string, opts ...Option) (*Store, error) {
	st := settings{timeout: 2 * time.Second, idemPrefix: "/idempotency/", log: slog.Default(), lag: 100 * time.Millisecond}
	for _, o := range opts {
		o(&st)
	}
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("open store: no etcd endpoint given")
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints,
		// Notice a frozen or partitioned etcd within a few seconds even when idle.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		PermitWithoutStream:  true,
		Logger:               zap.NewNop(),
		// Reconnect within a second of etcd coming back, however long it was away
		// (gRPC's default backoff grows to two minutes).
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("open store at %s: %w", strings.Join(endpoints, ","), err)
	}
	s := &Store{cli: cli, timeout: st.timeout, ack: st.ack, idemPrefix: st.idemPrefix, log: st.log}
	if st.ack == AckBeforeCommit {
		s.log.Warn("UNSAFE: writes are acknowledged before etcd commits them (STORE_ACK=before-commit); a crash loses acknowledged writes")
		s.later = newWriteBehind(st.lag, st.timeout, s.log)
	}
	return s, nil
}

// Ack returns when this store acknowledges writes.
func (s *Store) Ack() Ack { return s.ack }

// Close writes what AckBeforeCommit still holds (a graceful stop loses nothing; only a
// crash does), then closes the connection to etcd.
func (s *Store) Close() error {
	if s.later != nil {
		s.later.close(10 * time.Second)
	}
	if err := s.cli.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Meta describes the stored version of a key.
type Meta struct {
	// Version counts the writes to the key since it was created (1 after the first).
	Version int64
	// ModRevision is etcd's revision of the last write to the key.
	ModRevision int64
}

// bounded returns ctx bounded by the request timeout, or ErrUnavailable at once when the
// connection to etcd is known to be failing, so that a dead etcd answers fast.
func (s *Store) bounded(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if s.cli.ActiveConnection().GetState() == connectivity.TransientFailure {
		return nil, nil, fmt.Errorf("%w: %s: etcd at %s refuses connections", ErrUnavailable, op, strings.Join(s.cli.Endpoints(), ","))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

// Ping does one linearizable read, which needs an etcd that has a leader and answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel, err := s.bounded(ctx, "ping")
	if err != nil {
		return err
	}
	defer cancel()
	_, err = s.cli.Get(ctx, "/ping", clientv3.WithCountOnly())
	return classify("ping", err, false)
}

// Get reads the JSON value at key into v with a linearizable read. It returns an error
// wrapping ErrNotFound when the key holds nothing.
func (s *Store) Get(ctx context.Context, key string, v any) (Meta, error) {
	op := "get " + key
	ctx, cancel, err := s.bounded(ctx, op)
	if err != nil {
		return Meta{}, err
	}
	defer cancel()
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return Meta{}, classify(op, err, false)
	}
	if len(resp.Kvs) == 0 {
		return Meta{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	kv := resp.Kvs[0]
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return Meta{}, fmt.Errorf("%s: decode: %w", op, err)
	}
	return Meta{Version: kv.Version, ModRevision: kv.ModRevision}, nil
}

// List calls each, in key order, with every key under prefix and its JSON value, from one
// linearizable read. It stops at the first error each returns.
func (s *Store) List(ctx context.Context, prefix string, each func(key string, value []byte) error) error {
	op := "list " + prefix
	ctx, cancel, err := s.bounded(ctx, op)
	if err != nil {
		return err
	}
	defer cancel()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return classify(op, err, false)
	}
	for _, kv := range resp.Kvs {
		if err := each(string(kv.Key), kv.Value); err != nil {
			return err
		}
	}
	return nil
}

package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Current is the stored state of one key that Apply hands to a Mutation.
type Current struct {
	// Exists tells whether the key holds a value.
	Exists bool
	// Value is the stored JSON, nil when the key is absent.
	Value []byte
	// Version counts the writes to the key since it was created; 0 when absent.
	Version int64
}

// Decode reads the stored JSON into v.
func (c Current) Decode(v any) error {
	if !c.Exists {
		return ErrNotFound
	}
	if err := json.Unmarshal(c.Value, v); err != nil {
		return fmt.Errorf("decode stored value: %w", err)
	}
	return nil
}

// Outcome is what a Mutation decides: the value to write (if any) and the answer to give.
// The answer is stored with the Idempotency-Key, so that a replay gets it back as it was.
type Outcome struct {
	// Put is the new value of the key, written as JSON; nil leaves the key as it is.
	Put any
	// Status is the HTTP status of the answer, e.g. 200, or 409 for a refusal that must
	// replay as a refusal.
	Status int
	// Body is the answer, written as JSON.
	Body any
	// Also lists writes to other keys made in the same transaction, unguarded (an index
	// entry, say). They are made only if the Outcome writes something else too.
	Also []Write
}

// Write is one extra write of an Outcome: Put the value (as JSON) at Key, or Delete it.
type Write struct {
	Key    string
	Put    any
	Delete bool
}

// Mutation computes an Outcome from the current state of the key. It may run several
// times (once per conflict) and must have no side effects. An error it returns aborts
// Apply, writes nothing and is returned as it is (not recorded for replay).
type Mutation func(cur Current) (Outcome, error)

// Idempotency names a request that must be applied at most once.
type Idempotency struct {
	// Key is the caller's Idempotency-Key; empty means no idempotency record.
	Key string
	// Request describes the request (method, path, canonical body): a replay of Key with
	// a different Request is refused with ErrKeyReused.
	Request string
}

// Result is the answer of Apply.
type Result struct {
	// Status and Body are the answer to give (Body is JSON).
	Status int
	Body   json.RawMessage
	// Replayed tells that the answer came from an idempotency record: nothing was applied.
	Replayed bool
}

// record is what is kept under an Idempotency-Key.
type record struct {
	Request string          `json:"request"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body"`
	At      time.Time       `json:"at"`
}

// Apply runs fn on the current value of key and commits its Outcome together with the
// idempotency record of idem, in one transaction that holds only if neither the key nor
// the record changed since they were read; on conflict it reads again and reruns fn. If
// idem's key already has a record, Apply returns the stored answer and applies nothing.
//
// With AckAfterCommit, Apply returns only after etcd committed. Its errors wrap
// ErrUnavailable (nothing written) or ErrOutcomeUnknown (maybe written) when etcd is out
// of reach, ErrKeyReused, or are fn's own.
func (s *Store) Apply(ctx context.Context, key string, idem Idempotency, fn Mutation) (Result, error) {
	if s.later != nil {
		return s.applyLater(ctx, key, idem, fn)
	}
	op := "apply " + key
	ctx, cancel, err := s.bounded(ctx, op)
	if err != nil {
		return Result{}, err
	}
	defer cancel()
	return s.apply(ctx, key, idem, fn)
}

func (s *Store) apply(ctx context.Context, key string, idem Idempotency, fn Mutation) (Result, error) {
	for attempt := 1; ; attempt++ {
		p, err := s.plan(ctx, key, idem, fn)
		if err != nil || p.txn == nil {
			return p.res, err
		}
		resp, err := s.cli.Txn(ctx).If(p.cmps...).Then(p.txn...).Commit()
		if err != nil {
			return Result{}, classify(fmt.Sprintf("apply %s (attempt %d)", key, attempt), err, true)
		}
		if resp.Succeeded {
			return p.res, nil
		}
		// Another writer got there first: read again and decide again.
	}
}

// plan is one decision of Apply: the answer, and the guarded writes that make it true
// (txn nil when nothing is to be written).
type plan struct {
	res  Result
	cmps []clientv3.Cmp
	txn  []clientv3.Op
}

func (s *Store) plan(ctx context.Context, key string, idem Idempotency, fn Mutation) (plan, error) {
	idemKey := ""
	reads := []clientv3.Op{clientv3.OpGet(key)}
	if idem.Key != "" {
		idemKey = s.idemPrefix + idem.Key
		reads = append(reads, clientv3.OpGet(idemKey))
	}
	resp, err := s.cli.Txn(ctx).Then(reads...).Commit()
	if err != nil {
		return plan{}, classify("read "+key, err, false)
	}
	fingerprint := ""
	if idemKey != "" {
		sum := sha256.Sum256([]byte(idem.Request))
		fingerprint = hex.EncodeToString(sum[:])
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
			var rec record
			if err := json.Unmarshal(kvs[0].Value, &rec); err != nil {
				return plan{}, fmt.Errorf("read idempotency record %s: %w", idemKey, err)
			}
			if rec.Request != fingerprint {
				return plan{}, fmt.Errorf("idempotency key %q: %w", idem.Key, ErrKeyReused)
			}
			return plan{res: Result{Status: rec.Status, Body: rec.Body, Replayed: true}}, nil
		}
	}
	var cur Current
	var modRev int64
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		cur = Current{Exists: true, Value: kvs[0].Value, Version: kvs[0].Version}
		modRev = kvs[0].ModRevision
	}
	out, err := fn(cur)
	if err != nil {
		return plan{}, err
	}
	if out.Status == 0 {
		out.Status = http.StatusOK
	}
	body, err := json.Marshal(out.Body)
	if err != nil {
		return plan{}, fmt.Errorf("apply %s: encode answer: %w", key, err)
	}
	p := plan{res: Result{Status: out.Status, Body: body}}
	if out.Put != nil {
		val, err := json.Marshal(out.Put)
		if err != nil {
			return plan{}, fmt.Errorf("apply %s: encode value: %w", key, err)
		}
		p.cmps = append(p.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", modRev))
		p.txn = append(p.txn, clientv3.OpPut(key, string(val)))
	}
	if p.txn != nil || idemKey != "" {
		for _, wr := range out.Also {
			if wr.Delete {
				p.txn = append(p.txn, clientv3.OpDelete(wr.Key))
				continue
			}
			val, err := json.Marshal(wr.Put)
			if err != nil {
				return plan{}, fmt.Errorf("apply %s: encode value of %s: %w", key, wr.Key, err)
			}
			p.txn = append(p.txn, clientv3.OpPut(wr.Key, string(val)))
		}
	}
	if idemKey != "" {
		rec, err := json.Marshal(record{Request: fingerprint, Status: out.Status, Body: body, At: time.Now().UTC()})
		if err != nil {
			return plan{}, fmt.Errorf("apply %s: encode idempotency record: %w", key, err)
		}
		// Guard on the key too, so that a refusal is recorded against the state it saw.
		if out.Put == nil {
			p.cmps = append(p.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", modRev))
		}
		p.cmps = append(p.cmps, clientv3.Compare(clientv3.CreateRevision(idemKey), "=", 0))
		p.txn = append(p.txn, clientv3.OpPut(idemKey, string(rec)))
	}
	return p, nil
}

// applyLater is Apply under AckBeforeCommit: decide on what is stored now, answer at
// once, and leave the write to the write-behind queue. UNSAFE by design.
func (s *Store) applyLater(ctx context.Context, key string, idem Idempotency, fn Mutation) (Result, error) {
	op := "apply " + key
	ctx, cancel, err := s.bounded(ctx, op)
	if err != nil {
		return Result{}, err
	}
	defer cancel()
	p, err := s.plan(ctx, key, idem, fn)
	if err != nil || p.txn == nil {
		return p.res, err
	}
	s.later.enqueue(func(ctx context.Context) {
		if _, err := s.apply(ctx, key, idem, fn); err != nil {
			s.log.Error("write-behind lost an acknowledged write", "key", key, "err", err)
		}
	})
	return p.res, nil
}

// writeBehind is the queue of AckBeforeCommit: one worker writes each job no sooner than
// lag after it was queued, in the order they were queued.
type writeBehind struct {
	mu      sync.RWMutex // held for reading while queueing, for writing while closing
	closed  bool
	jobs    chan job
	flush   chan struct{} // closed by close: write what is queued without waiting out the lag
	done    chan struct{}
	lag     time.Duration
	timeout time.Duration
	log     *slog.Logger
}

type job struct {
	at  time.Time
	run func(context.Context)
}

func newWriteBehind(lag, timeout time.Duration, log *slog.Logger) *writeBehind {
	w := &writeBehind{jobs: make(chan job, 4096), flush: make(chan struct{}), done: make(chan struct{}), lag: lag, timeout: timeout, log: log}
	go w.work()
	return w
}

func (w *writeBehind) enqueue(run func(context.Context)) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		// Closed: write now rather than never.
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		defer cancel()
		run(ctx)
		return
	}
	w.jobs <- job{at: time.Now(), run: run} // blocks when full: back-pressure
}

func (w *writeBehind) work() {
	defer close(w.done)
	for j := range w.jobs {
		if d := time.Until(j.at.Add(w.lag)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-w.flush:
				t.Stop()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		j.run(ctx)
		cancel()
	}
}

// close writes what is queued, waiting at most max.
func (w *writeBehind) close(max time.Duration) {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.flush)
		close(w.jobs)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-time.After(max):
		w.log.Warn("write-behind queue not drained before close; queued writes are lost")
	}
}

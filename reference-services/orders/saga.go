package orders

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/store"
)

// errTakenOver means another runner holds the order now: this one stops.
var errTakenOver = errors.New("order taken over by another runner")

// claim takes the lease on the order rec describes, creating it as pending when create
// is set and it does not exist. It does not claim an order that is final, leased by
// another runner, or (minAge > 0) updated less than minAge ago; it then returns the
// stored order and claimed false.
func (s *Service) claim(ctx context.Context, rec record, create bool, minAge time.Duration) (record, bool, error) {
	token := s.owner + "/" + rand.Text()[:8]
	var got record
	var claimed bool
	_, err := s.st.Apply(ctx, orderPrefix+rec.ID, store.Idempotency{}, func(cur store.Current) (store.Outcome, error) {
		now := s.now().UTC()
		claimed = false
		if !cur.Exists {
			if !create {
				return store.Outcome{}, fmt.Errorf("order %s: %w", rec.ID, store.ErrNotFound)
			}
			got = rec
			got.CreatedAt, got.UpdatedAt = now, now
			got.Owner, got.LeaseUntil = token, now.Add(s.lease)
			claimed = true
			return store.Outcome{Put: got, Also: []store.Write{{Key: pendingPrefix + rec.ID, Put: rec.ID}}}, nil
		}
		got = record{}
		if err := cur.Decode(&got); err != nil {
			return store.Outcome{}, err
		}
		switch {
		case create && got.Request != rec.Request:
			return store.Outcome{}, httpjson.Errorf(http.StatusUnprocessableEntity,
				"%s %q was already used for another order (%s): use a new key for a new order", httpjson.IdempotencyKeyHeader, rec.IdempotencyKey, got.ID)
		case got.Status != Pending,
			got.Owner != "" && now.Before(got.LeaseUntil),
			minAge > 0 && now.Sub(got.UpdatedAt) < minAge:
			return store.Outcome{}, nil
		}
		got.Owner, got.LeaseUntil = token, now.Add(s.lease)
		claimed = true
		return store.Outcome{Put: got}, nil
	})
	if err != nil {
		return record{}, false, err
	}
	return got, claimed, nil
}

// update applies change to the stored order while this runner holds its lease.
func (s *Service) update(ctx context.Context, rec record, change func(*record)) (record, error) {
	var got record
	_, err := s.st.Apply(ctx, orderPrefix+rec.ID, store.Idempotency{}, func(cur store.Current) (store.Outcome, error) {
		got = record{}
		if err := cur.Decode(&got); err != nil {
			return store.Outcome{}, err
		}
		if got.Owner != rec.Owner {
			return store.Outcome{}, errTakenOver
		}
		change(&got)
		got.UpdatedAt = s.now().UTC()
		out := store.Outcome{Put: got}
		if got.Status != Pending {
			out.Also = []store.Write{{Key: pendingPrefix + got.ID, Delete: true}}
		}
		return out, nil
	})
	if errors.Is(err, errTakenOver) {
		return got, err
	}
	if err != nil {
		return rec, fmt.Errorf("save order %s: %w", rec.ID, err)
	}
	return got, nil
}

// rejection is why an order is rejected: the status its answer carries, the reason, and
// the dependency whose failure it was ("" when the order itself was refused).
type rejection struct {
	answer     int
	reason     string
	dependency string
}

// refusal is the rejection of an order a dependency refused, e.g. for want of stock.
func refusal(reason string) rejection { return rejection{answer: http.StatusConflict, reason: reason} }

// unreachable is the rejection of an order because dep gave no answer: the failure is the
// dependency's, which the answer says in httpjson.DependencyHeader.
func unreachable(dep *depError, err error) rejection {
	return rejection{answer: http.StatusServiceUnavailable, reason: err.Error(), dependency: dep.service}
}

// finish makes the order final: Confirmed (why is zero) or Rejected.
func (s *Service) finish(ctx context.Context, rec record, status string, why rejection) (record, error) {
	return s.update(ctx, rec, func(r *record) {
		r.Status, r.Answer, r.Reason, r.FailedDependency = status, why.answer, why.reason, why.dependency
		r.Owner, r.LeaseUntil = "", time.Time{}
	})
}

// leave gives the lease up on an order left pending because of why, and returns why.
// reason, unless empty, says what the order waits for.
func (s *Service) leave(ctx context.Context, rec record, reason string, why error) (record, error) {
	got, err := s.update(ctx, rec, func(r *record) {
		if reason != "" {
			r.Reason = reason
		}
		r.Owner, r.LeaseUntil = "", time.Time{}
	})
	if err != nil && !errors.Is(err, errTakenOver) {
		s.log.Warn("could not give up the lease on a pending order; it will be resumed when the lease lapses", "order", rec.ID, "err", err)
		return rec, why
	}
	return got, why
}

// run drives a claimed order as far as it can: reserve, debit, confirm; or, when the
// debit is refused or accounts is unreachable, release and reject. A step whose outcome
// is unknown leaves the order pending, and run returns that step's error.
func (s *Service) run(ctx context.Context, rec record) (record, error) {
	key, qty, amount := rec.IdempotencyKey, map[string]int64{"qty": rec.Qty}, map[string]int64{"amount": rec.Amount}
	if !rec.Compensating {
		r, err := s.call.post(ctx, "inventory", "/v1/items/"+url.PathEscape(rec.Item)+"/reserve", key+"/reserve", qty)
		var dep *depError
		switch {
		case errors.As(err, &dep) && !dep.maybeApplied:
			return s.finish(ctx, rec, Rejected, unreachable(dep, err))
		case err != nil:
			return s.leave(ctx, rec, "waiting for inventory", err)
		case r.status/100 != 2:
			return s.finish(ctx, rec, Rejected, refusal(r.errorText()))
		}
		r, err = s.call.post(ctx, "accounts", "/v1/accounts/"+url.PathEscape(rec.Account)+"/withdraw", key+"/debit", amount)
		switch {
		case errors.As(err, &dep) && !dep.maybeApplied:
			rec, err = s.decideReject(ctx, rec, unreachable(dep, err))
		case err != nil:
			return s.leave(ctx, rec, "waiting for accounts", err)
		case r.status/100 == 2:
			return s.finish(ctx, rec, Confirmed, rejection{})
		default:
			rec, err = s.decideReject(ctx, rec, refusal(r.errorText()))
		}
		if err != nil {
			return rec, err
		}
	}
	if s.noRelease {
		s.log.Warn("ORDERS_COMPENSATE=off: rejecting the order without releasing its stock", "order", rec.ID)
		return s.finish(ctx, rec, Rejected, rejection{answer: rec.Answer, reason: rec.Reason, dependency: rec.FailedDependency})
	}
	r, err := s.call.post(ctx, "inventory", "/v1/items/"+url.PathEscape(rec.Item)+"/release", key+"/release", qty)
	if err != nil {
		return s.leave(ctx, rec, "", err) // keeps the rejection's reason
	}
	if r.status/100 != 2 {
		// Only possible if the stock was released by someone else: reject all the same.
		s.log.Error("inventory refused to release an order's stock", "order", rec.ID, "status", r.status, "answer", r.errorText())
	}
	return s.finish(ctx, rec, Rejected, rejection{answer: rec.Answer, reason: rec.Reason, dependency: rec.FailedDependency})
}

// decideReject records that the order will be rejected, before any stock is released,
// so that no later runner debits an order whose stock is gone.
func (s *Service) decideReject(ctx context.Context, rec record, why rejection) (record, error) {
	return s.update(ctx, rec, func(r *record) {
		r.Compensating, r.Answer, r.Reason, r.FailedDependency = true, why.answer, why.reason, why.dependency
	})
}

// Resume finishes orders left pending (a step's outcome was unknown, or a replica died
// half-way) until ctx ends: every resume interval it claims each pending order that has
// been left alone that long and runs it again. Every replica runs it; leases make sure
// one order is run by one of them at a time.
func (s *Service) Resume(ctx context.Context) {
	if s.interval <= 0 {
		return
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.resumeOnce(ctx)
		}
	}
}

// resumeOnce runs each pending order it can claim once; it returns how many it ran.
func (s *Service) resumeOnce(ctx context.Context) int {
	var ids []string
	err := s.st.List(ctx, pendingPrefix, func(key string, _ []byte) error {
		ids = append(ids, key[len(pendingPrefix):])
		return nil
	})
	if err != nil {
		s.log.Debug("resume: cannot list pending orders", "err", err)
		return 0
	}
	ran := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		rec, claimed, err := s.claim(ctx, record{Order: Order{ID: id}}, false, s.interval)
		if err != nil || !claimed {
			continue
		}
		ran++
		runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.budget())
		final, err := s.run(runCtx, rec)
		cancel()
		s.log.Info("resumed a pending order", "order", id, "status", final.Status, "reason", final.Reason, "err", err)
	}
	return ran
}

package registry

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bounds of the eviction loop's sleep: it wakes at the next expiry, but at least this
// often (so a wall-clock jump is noticed) and never in a tight loop.
const (
	evictMaxSleep = time.Second
	evictMinSleep = 5 * time.Millisecond
)

// evictLoop evicts lapsed leases until Close, sleeping until the next lease is due.
func (r *Registry) evictLoop() {
	defer close(r.loopDone)
	timer := time.NewTimer(evictMaxSleep)
	defer timer.Stop()
	for {
		sleep := evictMaxSleep
		next, err := r.evictExpired(time.Now())
		switch {
		case err != nil:
			r.log.Error("eviction failed; will retry", "err", err)
		case !next.IsZero():
			sleep = min(max(time.Until(next), evictMinSleep), evictMaxSleep)
		}
		timer.Reset(sleep)
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-timer.C:
		}
	}
}

// due names one lease the eviction loop found lapsed in memory.
type due struct {
	service, id string
	mod         uint64
}

// evictExpired removes every lease that lapsed by now, as one change, and returns the
// expiry of the next lease to lapse (zero when there is none).
func (r *Registry) evictExpired(now time.Time) (time.Time, error) {
	var next time.Time
	var lapsed []due
	r.mu.RLock()
	for _, svc := range r.instances {
		for _, e := range svc {
			switch {
			case !e.live(now):
				lapsed = append(lapsed, due{e.inst.Service, e.inst.ID, e.mod})
			case next.IsZero() || e.expires.Before(next):
				next = e.expires
			}
		}
	}
	r.mu.RUnlock()
	if len(lapsed) == 0 {
		return next, nil
	}

	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.closed.Load() {
		return next, nil
	}
	index := r.index + 1 // r.index only changes under wmu, held here
	var evicted []due
	renewed := map[due]time.Time{}
	err := r.db.Update(func(tx *bolt.Tx) error {
		evicted, renewed = evicted[:0], map[due]time.Time{}
		var services []string
		for _, d := range lapsed {
			rec, found, err := getRecord(tx, d.service, d.id)
			switch {
			case err != nil:
				r.log.Warn("evicting a lease that does not decode", "err", err)
			case !found:
			case rec.ModIndex != d.mod:
				continue // registered again since: not ours to evict
			case now.Before(rec.ExpiresAt):
				renewed[d] = rec.ExpiresAt // a heartbeat got there first
				continue
			}
			if err := deleteRecord(tx, d.service, d.id); err != nil {
				return err
			}
			evicted = append(evicted, d)
			services = append(services, d.service)
		}
		if len(evicted) == 0 {
			return nil
		}
		return putIndexes(tx, index, services...)
	})
	if err != nil {
		return next, fmt.Errorf("evict lapsed leases: %w", err)
	}

	r.mu.Lock()
	for d, exp := range renewed {
		if cur := r.instances[d.service][d.id]; cur != nil && cur.mod == d.mod && cur.expires.Before(exp) {
			cur.expires = exp
		}
	}
	for _, d := range evicted {
		if cur := r.instances[d.service][d.id]; cur != nil && cur.mod == d.mod {
			r.removeLocked(d.service, d.id)
		}
		r.svcIndex[d.service] = index
	}
	if len(evicted) > 0 {
		r.index = index
		r.notifyLocked()
	}
	r.mu.Unlock()

	for _, d := range evicted {
		r.metrics.evictions.WithLabelValues(d.service).Inc()
		r.log.Info("evicted: lease lapsed", "instance_service", d.service, "instance", d.id, "index", index)
	}
	if len(renewed) > 0 {
		// A renewed lease may now be the next one due.
		r.wakeEvictor()
	}
	return next, nil
}

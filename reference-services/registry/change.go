package registry

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/faultline/faultline/reference-services/discovery"
)

// errUnknown is what a heartbeat of an instance without a live lease gets.
var errUnknown = errors.New("unknown instance")

// register stores inst with a lease of ttl, replacing any lease of the same service and
// id. It is a change (a new index) unless it renews an identical live instance.
func (r *Registry) register(inst discovery.Instance, ttl time.Duration) (discovery.Lease, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.closed.Load() {
		return discovery.Lease{}, ErrClosed
	}
	now := time.Now()
	r.mu.RLock()
	old := r.instances[inst.Service][inst.ID]
	changed := old == nil || !old.live(now) || !sameInstance(old.inst, inst)
	index := r.index
	r.mu.RUnlock()

	e := &entry{inst: inst, ttl: ttl, expires: now.Add(ttl)}
	if changed {
		index++
		e.mod = index
	} else {
		e.mod = old.mod
	}
	err := r.db.Update(func(tx *bolt.Tx) error {
		if err := putRecord(tx, e.record()); err != nil {
			return err
		}
		if changed {
			return putIndexes(tx, index, inst.Service)
		}
		return nil
	})
	if err != nil {
		return discovery.Lease{}, fmt.Errorf("store lease of %s/%s: %w", inst.Service, inst.ID, err)
	}

	granted := lease(e, index) // before e is shared: heartbeats change its expiry
	r.mu.Lock()
	svc := r.instances[inst.Service]
	if svc == nil {
		svc = map[string]*entry{}
		r.instances[inst.Service] = svc
	}
	svc[inst.ID] = e
	if changed {
		r.index = index
		r.svcIndex[inst.Service] = index
		r.notifyLocked()
	}
	r.mu.Unlock()
	r.wakeEvictor()

	r.metrics.registrations.WithLabelValues(inst.Service).Inc()
	if changed {
		r.log.Info("registered", "instance_service", inst.Service, "instance", inst.ID, "address", inst.Address, "ttl", ttl.String(), "index", index)
	} else {
		r.log.Debug("registered again, unchanged", "instance_service", inst.Service, "instance", inst.ID, "ttl", ttl.String())
	}
	return granted, nil
}

// heartbeat renews the live lease of service/id by its own length. Renewing is not a
// change: the index stays. Heartbeats go through bbolt's Batch, so that many instances
// renewing at once share an fsync.
func (r *Registry) heartbeat(service, id string) (discovery.Lease, error) {
	if r.closed.Load() {
		return discovery.Lease{}, ErrClosed
	}
	now := time.Now()
	r.mu.RLock()
	e := r.instances[service][id]
	live := e != nil && e.live(now)
	r.mu.RUnlock()
	if !live {
		r.metrics.heartbeats.WithLabelValues(service, "unknown").Inc()
		if e != nil {
			r.wakeEvictor()
		}
		return discovery.Lease{}, errUnknown
	}

	var rec record
	var found bool
	err := r.db.Batch(func(tx *bolt.Tx) error {
		var err error
		rec, found, err = getRecord(tx, service, id)
		if err != nil || !found {
			return err
		}
		if !now.Before(rec.ExpiresAt) {
			// Lapsed between the check above and this transaction: the eviction
			// loop removes it; the instance must register again.
			found = false
			return nil
		}
		rec.ExpiresAt = now.Add(time.Duration(rec.TTLMillis) * time.Millisecond).Round(0)
		return putRecord(tx, rec)
	})
	if err != nil {
		if r.closed.Load() {
			return discovery.Lease{}, ErrClosed
		}
		return discovery.Lease{}, fmt.Errorf("store heartbeat of %s/%s: %w", service, id, err)
	}
	if !found {
		r.metrics.heartbeats.WithLabelValues(service, "unknown").Inc()
		return discovery.Lease{}, errUnknown
	}

	r.mu.Lock()
	cur := r.instances[service][id]
	if cur != nil && cur.mod == rec.ModIndex && cur.expires.Before(rec.ExpiresAt) {
		cur.expires = rec.ExpiresAt
	}
	index := r.index
	r.mu.Unlock()
	r.metrics.heartbeats.WithLabelValues(service, "ok").Inc()
	r.log.Debug("heartbeat", "instance_service", service, "instance", id, "expires_at", rec.ExpiresAt)
	return lease(rec.entry(), index), nil
}

// deregister removes service/id at once. Removing an unknown instance is no change and
// no error.
func (r *Registry) deregister(service, id string) (uint64, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.closed.Load() {
		return 0, ErrClosed
	}
	r.mu.RLock()
	e := r.instances[service][id]
	index := r.index
	r.mu.RUnlock()
	if e == nil {
		return index, nil
	}
	index++
	err := r.db.Update(func(tx *bolt.Tx) error {
		if err := deleteRecord(tx, service, id); err != nil {
			return err
		}
		return putIndexes(tx, index, service)
	})
	if err != nil {
		return 0, fmt.Errorf("delete lease of %s/%s: %w", service, id, err)
	}
	r.mu.Lock()
	r.removeLocked(service, id)
	r.index = index
	r.svcIndex[service] = index
	r.notifyLocked()
	r.mu.Unlock()
	r.metrics.deregistrations.WithLabelValues(service).Inc()
	r.log.Info("deregistered", "instance_service", service, "instance", id, "index", index)
	return index, nil
}

// removeLocked drops service/id from memory. r.mu must be held for writing.
func (r *Registry) removeLocked(service, id string) {
	svc := r.instances[service]
	delete(svc, id)
	if len(svc) == 0 {
		delete(r.instances, service)
	}
}

func lease(e *entry, index uint64) discovery.Lease {
	return discovery.Lease{
		Service:   e.inst.Service,
		ID:        e.inst.ID,
		TTLMillis: e.ttl.Milliseconds(),
		ExpiresAt: e.expires.Round(0),
		Index:     index,
	}
}

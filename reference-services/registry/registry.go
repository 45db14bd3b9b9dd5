package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/faultline/faultline/reference-services/discovery"
)

// ErrClosed is returned by changes made after Close.
var ErrClosed = errors.New("registry is closed")

// Registry is the registry's state: live leases in memory, mirrored in a bbolt file so
// that a restart remembers them. Serve it with Handler; Close it when done.
type Registry struct {
	db      *bolt.DB
	path    string
	ttl     time.Duration
	maxWait time.Duration
	log     *slog.Logger
	metrics *metrics

	// wmu serialises changes (index allocation, file write, memory update) so that the
	// file and memory see them in the same order. Reads never take it.
	wmu sync.Mutex

	mu        sync.RWMutex
	instances map[string]map[string]*entry // service -> id -> lease
	svcIndex  map[string]uint64            // service -> index of its last change
	index     uint64                       // global index, never goes backwards
	changed   chan struct{}                // closed and replaced on every change

	watchers  atomic.Int64
	kick      chan struct{} // wakes the eviction loop early
	drained   chan struct{} // closed by Drain: blocking queries answer at once
	drainOnce sync.Once
	stop      chan struct{}
	loopDone  chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the registry's bbolt file at path, loads every lease that is
// still live (dropping, as evictions, those that lapsed while it was down) and starts
// the eviction loop.
func Open(path string, opts ...Option) (*Registry, error) {
	s := defaultSettings()
	for _, o := range opts {
		o(&s)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	r := &Registry{
		db:        db,
		path:      path,
		ttl:       s.ttl,
		maxWait:   s.maxWait,
		log:       s.log,
		instances: map[string]map[string]*entry{},
		svcIndex:  map[string]uint64{},
		changed:   make(chan struct{}),
		kick:      make(chan struct{}, 1),
		drained:   make(chan struct{}),
		stop:      make(chan struct{}),
		loopDone:  make(chan struct{}),
	}
	r.metrics = newMetrics(r)
	if err := r.load(time.Now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	r.log.Info("registry open", "path", path, "index", r.index, "instances", r.count(time.Now()), "ttl", r.ttl.String())
	go r.evictLoop()
	return r, nil
}

// load reads the file into memory in one write transaction: it creates the buckets on a
// fresh file, and deletes the leases that lapsed while the registry was down (and any it
// cannot decode), recording that as one change.
func (r *Registry) load(now time.Time) error {
	var evicted []string
	err := r.db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		r.index = decodeUint(tx.Bucket(bucketMeta).Get(keyIndex))
		if err := tx.Bucket(bucketServices).ForEach(func(k, v []byte) error {
			r.svcIndex[string(k)] = decodeUint(v)
			return nil
		}); err != nil {
			return fmt.Errorf("read service indexes: %w", err)
		}
		var drop [][]byte
		c := tx.Bucket(bucketInstances).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				r.log.Warn("dropping a lease that does not decode", "key", string(k), "err", err)
				drop = append(drop, slices.Clone(k))
				continue
			}
			e := rec.entry()
			if !e.live(now) {
				r.log.Info("lease lapsed while the registry was down", "instance_service", e.inst.Service, "instance", e.inst.ID, "expired_at", e.expires)
				drop = append(drop, slices.Clone(k))
				evicted = append(evicted, e.inst.Service)
				continue
			}
			svc := r.instances[e.inst.Service]
			if svc == nil {
				svc = map[string]*entry{}
				r.instances[e.inst.Service] = svc
			}
			svc[e.inst.ID] = e
		}
		for _, k := range drop {
			if err := tx.Bucket(bucketInstances).Delete(k); err != nil {
				return fmt.Errorf("delete lapsed lease: %w", err)
			}
		}
		switch {
		case len(drop) > 0:
			// Lapsed leases are evictions: one change, so watchers from before see it.
			r.index++
		case r.index == 0:
			// A fresh file starts at 1: 0 means "no index" to a blocking query.
			r.index = 1
		default:
			return nil
		}
		if err := putIndexes(tx, r.index, evicted...); err != nil {
			return fmt.Errorf("write index: %w", err)
		}
		for _, s := range evicted {
			r.svcIndex[s] = r.index
		}
		return nil
	})
	for _, s := range evicted {
		r.metrics.evictions.WithLabelValues(s).Inc()
	}
	return err
}

// notifyLocked wakes every blocked query. r.mu must be held for writing.
func (r *Registry) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// wakeEvictor asks the eviction loop to look again now.
func (r *Registry) wakeEvictor() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// snapshot returns the live instances of service, sorted by id, and the index of the
// service's last change (at least 1, also for a service never seen).
func (r *Registry) snapshot(service string, now time.Time) discovery.Snapshot {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]discovery.Instance, 0, len(r.instances[service]))
	for _, e := range r.instances[service] {
		if e.live(now) {
			out = append(out, e.inst)
		}
	}
	slices.SortFunc(out, func(a, b discovery.Instance) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return discovery.Snapshot{Service: service, Index: max(r.svcIndex[service], 1), Instances: out}
}

// services lists the services with at least one live instance, sorted, and the global
// index.
func (r *Registry) services(now time.Time) discovery.ServiceList {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []string{}
	for name, svc := range r.instances {
		for _, e := range svc {
			if e.live(now) {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return discovery.ServiceList{Index: r.index, Services: out}
}

// counts returns the number of live instances per service, 0 for a service that
// had some.
func (r *Registry) counts(now time.Time) map[string]int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]int, len(r.svcIndex))
	for name := range r.svcIndex {
		out[name] = 0
	}
	for name, svc := range r.instances {
		for _, e := range svc {
			if e.live(now) {
				out[name]++
			}
		}
	}
	return out
}

// count returns the number of live instances.
func (r *Registry) count(now time.Time) int {
	n := 0
	for _, c := range r.counts(now) {
		n += c
	}
	return n
}

// currentIndex returns the global index.
func (r *Registry) currentIndex() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.index
}

// Drain makes every blocked query answer now, and every later one answer without
// waiting. Call it when the HTTP server begins to shut down
// (http.Server.RegisterOnShutdown), so that long polls do not hold the shutdown up.
func (r *Registry) Drain() {
	r.drainOnce.Do(func() { close(r.drained) })
}

// Close stops the eviction loop, releases every blocked query and closes the file.
// Changes after Close fail with ErrClosed. It is safe to call more than once.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.Drain()
		close(r.stop)
		<-r.loopDone
		r.wmu.Lock()
		r.closed.Store(true)
		r.wmu.Unlock()
		if err := r.db.Close(); err != nil {
			r.closeErr = fmt.Errorf("close registry %s: %w", r.path, err)
		}
		r.log.Info("registry closed", "path", r.path)
	})
	return r.closeErr
}

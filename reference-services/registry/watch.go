package registry

import (
	"context"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
)

// watch answers a blocking query, the way Consul's do: with index 0 it answers at once;
// otherwise it waits until the service's last-change index passes index, wait elapses,
// ctx ends or the registry drains, and answers with the snapshot of that moment. A
// client whose index is ahead of the registry's (it saw a registry since reset) gets an
// answer at once, so that it can start over from the lower index.
//
// Waiting costs no polling: every change closes the channel the waiters select on.
func (r *Registry) watch(ctx context.Context, service string, index uint64, wait time.Duration) discovery.Snapshot {
	if index == 0 {
		return r.snapshot(service, time.Now())
	}
	if wait <= 0 || wait > r.maxWait {
		wait = r.maxWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	counted := false
	defer func() {
		if counted {
			r.watchers.Add(-1)
		}
	}()
	for {
		r.mu.RLock()
		last, global, changed := max(r.svcIndex[service], 1), r.index, r.changed
		r.mu.RUnlock()
		if last > index || index > global {
			break
		}
		if !counted {
			counted = true
			r.watchers.Add(1)
		}
		select {
		case <-changed:
			continue
		case <-timer.C:
		case <-ctx.Done():
		case <-r.drained:
		}
		break
	}
	return r.snapshot(service, time.Now())
}

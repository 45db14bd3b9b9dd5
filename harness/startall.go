package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// errDependencyFailed marks a service that was not started because something it needs
// failed to start; the failure itself is reported by that other service.
var errDependencyFailed = errors.New("not started: a service it needs failed to start")

// startAll starts every service of order as soon as what it needs is up — the registry
// when it calls one, the services it depends on — and each service's database and
// replicas all at once. A bring-up so takes as long as its longest chain of starts
// rather than the sum of every start. The first failure cancels the starts under way,
// and is the error returned. Once every start is done, the instances are listed in the
// order a one-at-a-time start in order would have given.
func (r *Running) startAll(ctx context.Context, order []Service) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	registry := ""
	for _, svc := range order {
		if svc.Role == RoleRegistry {
			registry = svc.Name
			break
		}
	}
	done := make(map[string]chan struct{}, len(order))
	failed := make(map[string]bool, len(order)) // each written once, before its done closes
	for _, svc := range order {
		done[svc.Name] = make(chan struct{})
	}
	errs := make([]error, len(order))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, svc := range order {
		wg.Go(func() {
			err := r.startService(ctx, svc, needs(svc, registry), done, failed, &mu)
			if err != nil {
				errs[i] = err
				cancel(err)
			}
			mu.Lock()
			failed[svc.Name] = err != nil
			mu.Unlock()
			close(done[svc.Name])
		})
	}
	wg.Wait()
	r.sortInstances(order)
	// The error of the start that failed first, not of those it cancelled.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	var real []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errDependencyFailed) {
			real = append(real, err)
		}
	}
	return errors.Join(real...)
}

// needs lists the services svc must wait for: the registry it calls, and its
// dependencies.
func needs(svc Service, registry string) []string {
	var out []string
	if svc.RegistryEnv != "" && registry != "" && svc.Name != registry {
		out = append(out, registry)
	}
	for _, d := range svc.DependsOn {
		out = append(out, d.Service)
	}
	return out
}

// startService starts svc's database at once, waits for what svc needs, then starts its
// replicas together (a cluster's one after another: each needs its peers' links).
func (r *Running) startService(ctx context.Context, svc Service, needs []string,
	done map[string]chan struct{}, failed map[string]bool, mu *sync.Mutex) error {
	var dbErr chan error
	if svc.Database != nil {
		dbErr = make(chan error, 1)
		go func() { dbErr <- r.startDatabase(ctx, svc) }()
	}
	waitDB := func() error {
		if dbErr == nil {
			return nil
		}
		err := <-dbErr
		dbErr = nil
		return err
	}
	for _, n := range needs {
		select {
		case <-done[n]:
			mu.Lock()
			bad := failed[n]
			mu.Unlock()
			if bad {
				_ = waitDB()
				return fmt.Errorf("%s: %w (%s)", svc.Name, errDependencyFailed, n)
			}
		case <-ctx.Done():
			_ = waitDB()
			return fmt.Errorf("%s: %w", svc.Name, context.Cause(ctx))
		}
	}
	if err := waitDB(); err != nil {
		return err
	}
	if svc.Cluster != nil {
		return r.startCluster(ctx, svc)
	}
	errs := make([]error, svc.Replicas)
	var wg sync.WaitGroup
	for i := range svc.Replicas {
		wg.Go(func() { _, errs[i] = r.startInstance(ctx, svc, nil) })
	}
	wg.Wait()
	r.sortInstances(nil)
	return errors.Join(errs...)
}

// sortInstances lists the instances by service, in the order given (when given), and by
// number within a service, as a one-at-a-time start would have; without an order, each
// service's instances are put in number order among the places they hold.
func (r *Running) sortInstances(order []Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if order != nil {
		rank := map[string]int{}
		for i, svc := range order {
			rank[svc.Name] = i
		}
		slices.SortStableFunc(r.instances, func(a, b *Instance) int {
			return cmp.Or(cmp.Compare(rank[a.Service], rank[b.Service]), cmp.Compare(instanceNumber(a), instanceNumber(b)))
		})
		return
	}
	places := map[string][]int{}
	for i, in := range r.instances {
		places[in.Service] = append(places[in.Service], i)
	}
	for _, idx := range places {
		insts := make([]*Instance, len(idx))
		for k, i := range idx {
			insts[k] = r.instances[i]
		}
		slices.SortStableFunc(insts, func(a, b *Instance) int { return cmp.Compare(instanceNumber(a), instanceNumber(b)) })
		for k, i := range idx {
			r.instances[i] = insts[k]
		}
	}
}

// instanceNumber is n of an instance named "<service>-<n>", or 0.
func instanceNumber(in *Instance) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(in.Name(), in.Service+"-"))
	return n
}

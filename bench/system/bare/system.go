package bare

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reference"
)

// healthTimeout bounds the wait for one process's health path, as the harness's does.
const healthTimeout = 30 * time.Second

// System is a plan running on a backend, without the harness.
type System struct {
	hosts    map[string]string // name → host:port where this process reaches it
	gateway  string
	registry string
	closer   func(context.Context) error
	once     sync.Once
	closeErr error
}

// URL is where this process reaches the named instance directly ("http://host:port").
func (s *System) URL(name string) string { return "http://" + s.hosts[name] }

// GatewayURL is where clients reach the gateway.
func (s *System) GatewayURL() string { return s.gateway }

// RegistryURL is where this process reaches the registry.
func (s *System) RegistryURL() string { return s.registry }

// Close stops every process it started and removes what it made. It is safe to call
// more than once, and after a failed start.
func (s *System) Close(ctx context.Context) error {
	s.once.Do(func() {
		if s.closer != nil {
			s.closeErr = s.closer(context.WithoutCancel(ctx))
		}
	})
	return s.closeErr
}

// backend starts one process of a plan and says where it is reached.
type backend interface {
	// start starts p and returns where this process reaches it (host:port).
	start(ctx context.Context, p Proc) (string, error)
	// close stops and removes everything started.
	close(ctx context.Context) error
}

// run starts every process of plan on be as soon as the processes it needs answer
// their health paths, waits for its own, then for the system's readiness: the registry
// lists every business instance and the gateway answers /readyz. The first failure
// cancels the starts under way; on error it closes what it started.
func run(ctx context.Context, plan Plan, be backend) (s *System, err error) {
	s = &System{hosts: map[string]string{}, closer: be.close}
	defer func() {
		if err != nil {
			_ = s.Close(ctx)
			s = nil
		}
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := map[string]chan struct{}{}
	for _, p := range plan.Procs {
		done[p.Name] = make(chan struct{})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range plan.Procs {
		wg.Go(func() {
			defer close(done[p.Name])
			for _, n := range p.Needs {
				select {
				case <-done[n]:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			host, err := be.start(ctx, p)
			if err == nil {
				err = harness.WaitHTTP(ctx, "http://"+host+p.Health, healthTimeout)
			}
			if err != nil {
				cancel(fmt.Errorf("start %s: %w", p.Name, err))
				return
			}
			mu.Lock()
			s.hosts[p.Name] = host
			switch p.Service {
			case reference.Gateway:
				s.gateway = "http://" + host
			case reference.Registry:
				s.registry = "http://" + host
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return s, err
	}
	if err := ready(ctx, plan, s); err != nil {
		return s, err
	}
	return s, nil
}

// ready waits for what reference.Ready waits for: every business instance listed by the
// registry, and the gateway ready.
func ready(ctx context.Context, plan Plan, s *System) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	services := make([]string, 0, len(plan.Registered))
	for svc := range plan.Registered {
		services = append(services, svc)
	}
	slices.Sort(services)
	for _, svc := range services {
		want := slices.Sorted(slices.Values(plan.Registered[svc]))
		var got []string
		for {
			got, _ = reference.ListedAt(ctx, s.registry, svc)
			if slices.Equal(got, want) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("registry lists %v for %s, want %v: %w", got, svc, want, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if s.gateway != "" {
		if err := harness.WaitHTTP(ctx, s.gateway+"/readyz", time.Minute); err != nil {
			return fmt.Errorf("gateway not ready: %w", err)
		}
	}
	return nil
}

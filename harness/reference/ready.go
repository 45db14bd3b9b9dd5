package reference

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
)

// GatewayURL is where clients reach the gateway: through its first instance's ingress
// link, or "" when the system runs no gateway.
func GatewayURL(r *harness.Running) string { return serviceURL(r, Gateway) }

// RegistryURL is where the harness reaches the registry: through its ingress link, or ""
// when the system runs no registry.
func RegistryURL(r *harness.Running) string { return serviceURL(r, Registry) }

func serviceURL(r *harness.Running, service string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, _ := r.URL(ctx, service)
	return url
}

// PartitionFromRegistry cuts one instance off the registry and nothing else: a black hole
// on its own registry link, so that its heartbeats and lookups hang while every caller
// still reaches it. It fails for an instance that has no registry link.
func PartitionFromRegistry(inst *harness.Instance) (*fault.DependencyPartitionFault, error) {
	l, err := inst.LinkTo(Registry)
	if err != nil {
		return nil, fmt.Errorf("partition from the registry: %w", err)
	}
	return fault.PartitionFromDependency(l, Registry), nil
}

// Registered waits until the registry lists exactly the running instances of service
// (by instance id), or ctx ends. It speaks the registry's HTTP API directly, so the
// harness needs none of the services' code.
func Registered(ctx context.Context, r *harness.Running, service string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var want []string
	for _, i := range r.Instances(service) {
		want = append(want, i.Name())
	}
	slices.Sort(want)
	var got []string
	for {
		got = nil
		if ids, err := listed(ctx, client, RegistryURL(r), service); err == nil {
			got = ids
			if slices.Equal(got, want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry lists %v for %s, want %v: %w", got, service, want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Listed returns the instance ids the registry lists for service now.
func Listed(ctx context.Context, r *harness.Running, service string) ([]string, error) {
	return ListedAt(ctx, RegistryURL(r), service)
}

// ListedAt returns the sorted instance ids the registry at base (an http:// URL) lists
// for service now: for a registry the harness did not start.
func ListedAt(ctx context.Context, base, service string) ([]string, error) {
	return listed(ctx, &http.Client{Timeout: 2 * time.Second}, base, service)
}

func listed(ctx context.Context, client *http.Client, base, service string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/services/"+service, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("registry answered %d", resp.StatusCode)
	}
	var snap struct {
		Instances []struct {
			ID string `json:"id"`
		} `json:"instances"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return nil, fmt.Errorf("decode registry answer: %w", err)
	}
	var ids []string
	for _, i := range snap.Instances {
		ids = append(ids, i.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

// Ready is a harness readiness check for the reference system: every business instance
// is registered, and the gateway routes to each service.
func Ready(ctx context.Context, r *harness.Running) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, svc := range []string{"accounts", "inventory", "orders"} {
		if err := Registered(ctx, r, svc); err != nil {
			return err
		}
	}
	if err := harness.WaitHTTP(ctx, GatewayURL(r)+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("gateway not ready: %w", err)
	}
	return nil
}

// Up brings the reference system up with Ready as its readiness check.
func Up(ctx context.Context, opts ...harness.Option) (*harness.Running, error) {
	return harness.Up(ctx, System(), append([]harness.Option{harness.WithReadiness(Ready)}, opts...)...)
}

package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// WaitHTTP polls url with GET until it answers 200, or timeout (or ctx) ends; the error
// then says what the last attempt saw. It polls every 10 ms at first, backing off to
// every 100 ms, so that what is ready at once (an instance's health through its proxy,
// once the runtime has seen it ready) costs a bring-up no fixed pause. Readiness checks
// of Up and of readiness hooks such as reference.Ready share it.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s: %w", url, timeout, last)
		case <-time.After(delay):
		}
	}
}

// waitReady waits until an instance answers its readiness path through the link the
// plan names (its ingress), so that Up returns a system whose every path is known to
// work.
func waitReady(ctx context.Context, inst *Instance, via *netfault.Link, ready Readiness) error {
	addr, err := via.HostAddr(ctx)
	if err != nil {
		return fmt.Errorf("address of %s: %w", inst.Name(), err)
	}
	if err := WaitHTTP(ctx, "http://"+addr+ready.Path, ready.Timeout); err != nil {
		return fmt.Errorf("%s not healthy: %w", inst.Name(), err)
	}
	return nil
}

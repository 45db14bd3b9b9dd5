package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// waitHealthy polls an instance's health path through its ingress link until it answers
// 200, so that Up returns a system whose every path is known to work.
func waitHealthy(ctx context.Context, inst *Instance, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		base, err := inst.URL(ctx)
		if err == nil {
			var req *http.Request
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
			if err == nil {
				var resp *http.Response
				if resp, err = client.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return nil
					}
					err = fmt.Errorf("%s answered %d", path, resp.StatusCode)
				}
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %w", inst.Name(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

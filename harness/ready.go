package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/wait"
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

// waitReady waits, within timeout, until inst is ready by its planned strategy, so
// that Up returns a system whose every path is known to work.
func waitReady(ctx context.Context, inst *Instance, ready wait.Strategy, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ready.Wait(ctx, inst); err != nil {
		return fmt.Errorf("%s not ready within %s (waited for %s): %w", inst.Name(), timeout, ready, err)
	}
	return nil
}

// Exec runs cmd beside the instance — in its container on docker, on the host locally,
// placeholders filled in as the instance sees them — and returns its exit code and
// output; runtime.ErrUnsupported where the runtime cannot.
func (i *Instance) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	ex, ok := i.Instance.(runtime.Execer)
	if !ok {
		return 0, nil, fmt.Errorf("exec in %s: %w", i.Name(), errors.Join(runtime.ErrUnsupported,
			fmt.Errorf("its runtime's instances (%T) run no command beside them (runtime.Execer)", i.Instance)))
	}
	return ex.Exec(ctx, cmd)
}

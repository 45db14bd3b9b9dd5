package wait

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// HTTP waits until GET Path on a port answers Status, through the port's ingress
// link.
type HTTP struct {
	// Port is the port asked (default: the main port).
	Port string `yaml:"port,omitempty"`
	// Path is the HTTP path asked ("/healthz").
	Path string `yaml:"path"`
	// Status is the status that means ready (default 200).
	Status int `yaml:"status,omitempty"`
}

// String says what it waits for.
func (h *HTTP) String() string {
	return fmt.Sprintf("HTTP %d on %s of port %s", h.Status, h.Path, h.Port)
}

// Wait waits until t is ready by it, or ctx ends.
func (h *HTTP) Wait(ctx context.Context, t Target) error {
	l, err := t.Port(h.Port)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, h.String(), func(ctx context.Context) error {
		addr, err := l.HostAddr(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+h.Path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != h.Status {
			return fmt.Errorf("answered %d", resp.StatusCode)
		}
		return nil
	})
}

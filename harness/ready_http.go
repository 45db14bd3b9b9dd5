package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// HTTPReady waits until GET Path on a port answers Status, through the port's ingress
// link.
type HTTPReady struct {
	// Port is the port asked (default: the main port).
	Port string `yaml:"port,omitempty"`
	// Path is the HTTP path asked ("/healthz").
	Path string `yaml:"path"`
	// Status is the status that means ready (default 200).
	Status int `yaml:"status,omitempty"`
}

func (h *HTTPReady) String() string {
	return fmt.Sprintf("HTTP %d on %s of port %s", h.Status, h.Path, h.Port)
}

func (h *HTTPReady) wait(ctx context.Context, t readyTarget) error {
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

package proxyserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/faultline/faultline/harness/peerroute"
)

// PeerRoutersPath is where the server's API makes and removes peer routers (see
// harness/peerroute): POST PeerRoutersPath+name with a PeerRouterSpec starts the router
// of the instance called name (replacing one of that name) and answers its listen
// address; DELETE removes it. A peer router lives beside the proxies, so that it sends
// each peer name to a proxy's listener on this host, wherever the server runs (in the
// harness process, or in the run's proxy container on docker).
const PeerRoutersPath = "/faultline/peer-routers/"

// PeerRouterSpec is a peer router to start: where it listens ("0.0.0.0:0" picks a free
// port) and its routes, "kv-2:2380" → the address on this host it is sent to.
type PeerRouterSpec struct {
	Listen string            `json:"listen"`
	Routes map[string]string `json:"routes"`
}

// peerRouters are the server's peer routers, by instance name.
type peerRouters struct {
	log *slog.Logger
	mu  sync.Mutex
	m   map[string]*peerroute.Router
}

func (p *peerRouters) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	name := strings.TrimPrefix(req.URL.Path, PeerRoutersPath)
	if name == "" || strings.Contains(name, "/") {
		http.Error(w, "peer router: name the instance: "+PeerRoutersPath+"<instance>", http.StatusNotFound)
		return
	}
	switch req.Method {
	case http.MethodPost:
		var spec PeerRouterSpec
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&spec); err != nil {
			http.Error(w, "peer router "+name+": body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if spec.Listen == "" || len(spec.Routes) == 0 {
			http.Error(w, "peer router "+name+": listen and routes are required", http.StatusBadRequest)
			return
		}
		routes := make(map[string]func() (string, error), len(spec.Routes))
		for to, addr := range spec.Routes {
			routes[to] = func() (string, error) { return addr, nil }
		}
		p.remove(name)
		r, err := peerroute.Start(req.Context(), name, peerroute.Table(routes), peerroute.WithListen(spec.Listen), peerroute.WithLogger(p.log))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		p.mu.Lock()
		p.m[name] = r
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"listen": r.Addr()})
	case http.MethodDelete:
		if !p.remove(name) {
			http.Error(w, "peer router "+name+": none", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "peer router: POST or DELETE", http.StatusMethodNotAllowed)
	}
}

// remove closes the router called name, if there is one.
func (p *peerRouters) remove(name string) bool {
	p.mu.Lock()
	r, ok := p.m[name]
	delete(p.m, name)
	p.mu.Unlock()
	if ok {
		_ = r.Close()
	}
	return ok
}

// closeAll closes every router.
func (p *peerRouters) closeAll() {
	p.mu.Lock()
	all := p.m
	p.m = map[string]*peerroute.Router{}
	p.mu.Unlock()
	for _, r := range all {
		_ = r.Close()
	}
}

// StartPeerRouter asks the server whose API is at apiAddr for the peer router of the
// instance called name, and returns the address it listens on, on the server's host.
func StartPeerRouter(ctx context.Context, apiAddr, name string, spec PeerRouterSpec) (string, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+apiAddr+PeerRoutersPath+name, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("start the peer router of %s: %w", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("start the peer router of %s: HTTP %d: %s (a proxy server without faultline's peer routers? the harness's own, cmd/faultline-toxiproxy, has them)", name, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var out struct{ Listen string }
	if err := json.Unmarshal(b, &out); err != nil || out.Listen == "" {
		return "", fmt.Errorf("start the peer router of %s: answer %q: %v", name, b, errors.Join(err, errors.New("no listen address")))
	}
	return out.Listen, nil
}

// StopPeerRouter removes the peer router of the instance called name.
func StopPeerRouter(ctx context.Context, apiAddr, name string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+apiAddr+PeerRoutersPath+name, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("stop the peer router of %s: %w", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("stop the peer router of %s: HTTP %d", name, resp.StatusCode)
	}
	return nil
}

package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/faultline/faultline/reference-services/discovery"
)

// Handler returns the registry's HTTP API, the one discovery.Client speaks:
//
//	POST   /v1/register                          register (or replace) an instance
//	PUT    /v1/services/{service}/{id}/heartbeat renew its lease (404: unknown)
//	DELETE /v1/services/{service}/{id}           deregister (idempotent)
//	GET    /v1/services                          services with a live instance
//	GET    /v1/services/{service}?index=&wait=   live instances, as a blocking query
//	GET    /healthz, /readyz, /metrics           liveness, readiness, Prometheus
//
// Every error answer is a JSON discovery.ErrorBody.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		// The same path without a method catches every other method.
		mux.HandleFunc(path, methodNotAllowed(method))
	}
	route(http.MethodPost, "/v1/register", r.handleRegister)
	route(http.MethodPut, "/v1/services/{service}/{id}/heartbeat", r.handleHeartbeat)
	route(http.MethodDelete, "/v1/services/{service}/{id}", r.handleDeregister)
	route(http.MethodGet, "/v1/services", r.handleServices)
	route(http.MethodGet, "/v1/services/{service}", r.handleService)
	route(http.MethodGet, "/healthz", handleHealth)
	route(http.MethodGet, "/readyz", r.handleReady)
	mux.Handle("GET /metrics", r.metrics.handler())
	mux.HandleFunc("/metrics", methodNotAllowed(http.MethodGet))
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+req.Method+" "+req.URL.Path+": see the registry section of reference-services/README.md")
	})
	return r.recoverPanics(mux)
}

func (r *Registry) handleRegister(w http.ResponseWriter, req *http.Request) {
	body, err := decodeRegister(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	inst, ttl, err := validate(body, r.ttl)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lease, err := r.register(inst, ttl)
	if err != nil {
		r.writeChangeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, lease.Index, lease)
}

func (r *Registry) handleHeartbeat(w http.ResponseWriter, req *http.Request) {
	service, id := req.PathValue("service"), req.PathValue("id")
	lease, err := r.heartbeat(service, id)
	if errors.Is(err, errUnknown) {
		writeError(w, http.StatusNotFound, "instance "+service+"/"+id+" has no live lease: register it again")
		return
	}
	if err != nil {
		r.writeChangeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, lease.Index, lease)
}

func (r *Registry) handleDeregister(w http.ResponseWriter, req *http.Request) {
	index, err := r.deregister(req.PathValue("service"), req.PathValue("id"))
	if err != nil {
		r.writeChangeError(w, err)
		return
	}
	w.Header().Set(discovery.IndexHeader, strconv.FormatUint(index, 10))
	w.WriteHeader(http.StatusNoContent)
}

func (r *Registry) handleServices(w http.ResponseWriter, req *http.Request) {
	list := r.services(time.Now())
	writeJSON(w, http.StatusOK, list.Index, list)
}

func (r *Registry) handleService(w http.ResponseWriter, req *http.Request) {
	index, wait, err := parseQuery(req.URL.Query(), r.maxWait)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	snap := r.watch(req.Context(), req.PathValue("service"), index, wait)
	writeJSON(w, http.StatusOK, snap.Index, snap)
}

func handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (r *Registry) handleReady(w http.ResponseWriter, _ *http.Request) {
	err := r.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("meta bucket is missing")
		}
		return nil
	})
	if err != nil || r.closed.Load() {
		msg := "registry is closed"
		if err != nil {
			msg = "database does not answer: " + err.Error()
		}
		writeError(w, http.StatusServiceUnavailable, msg)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (r *Registry) writeChangeError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrClosed) || errors.Is(err, bolt.ErrDatabaseNotOpen) {
		writeError(w, http.StatusServiceUnavailable, "registry is shutting down: retry in a moment, or against another registry")
		return
	}
	r.log.Error("change failed", "err", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if allow == http.MethodGet {
			allow = "GET, HEAD"
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, req.Method+" "+req.URL.Path+" is not allowed: use "+strings.Split(allow, ",")[0])
	}
}

// recoverPanics turns a panic in a handler into a logged 500, so that no input can take
// the connection down with a stack trace.
func (r *Registry) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				r.log.Error("handler panicked", "method", req.Method, "path", req.URL.Path, "panic", p)
				writeError(w, http.StatusInternalServerError, "internal error: the registry logged it")
			}
		}()
		next.ServeHTTP(w, req)
	})
}

func writeJSON(w http.ResponseWriter, status int, index uint64, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(discovery.IndexHeader, strconv.FormatUint(index, 10))
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(discovery.ErrorBody{Error: msg})
}

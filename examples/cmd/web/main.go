// Command web is the shop's front door. POST /api/orders passes an order to orders;
// GET /api/orders/{id} answers from its Redis cache when it can and from orders when it
// cannot, filling the cache on a miss. With Redis gone it degrades to orders alone and
// still serves; X-Cache says hit, miss or down.
//
// It reads LISTEN_ADDR (default 127.0.0.1:8080), ORDERS_ADDR and REDIS_ADDR.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("web failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	listen := envOr("LISTEN_ADDR", "127.0.0.1:8080")
	orders := "http://" + os.Getenv("ORDERS_ADDR")
	// A cache that does not answer within 100 ms is as good as gone: never wait for it.
	cache := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"),
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer cache.Close()
	hc := &http.Client{Timeout: 2 * time.Second}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		pass(w, hc, r.Context(), http.MethodPost, orders+"/orders", body)
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		got, err := cache.Get(r.Context(), "order:"+id).Bytes()
		switch {
		case err == nil:
			w.Header().Set("X-Cache", "hit")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(got)
			return
		case errors.Is(err, redis.Nil):
			w.Header().Set("X-Cache", "miss")
		default:
			w.Header().Set("X-Cache", "down")
		}
		status, answer := pass(w, hc, r.Context(), http.MethodGet, orders+"/orders/"+id, nil)
		if status == http.StatusOK && errors.Is(err, redis.Nil) {
			_ = cache.Set(r.Context(), "order:"+id, answer, time.Minute).Err()
		}
	})
	srv := &http.Server{Addr: listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("serving", "listen", listen)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pass sends the call on to orders and its answer back, and returns both.
func pass(w http.ResponseWriter, hc *http.Client, ctx context.Context, method, url string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		http.Error(w, `{"error":"orders unavailable"}`, http.StatusBadGateway)
		return 0, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
	return resp.StatusCode, answer
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Command orders keeps the shop's orders in PostgreSQL. POST /orders with
// {"id","item","qty"} stores one, idempotently by id, and answers 201 once it is
// committed; GET /orders/{id} reads one back. Every query is bounded by QUERY_TIMEOUT
// (default 300ms): with the database cut off it answers 503 at once rather than hang.
//
// It reads LISTEN_ADDR (default 127.0.0.1:8080) and DATABASE_URL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Order is one order.
type Order struct {
	ID   string `json:"id"`
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("orders failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	listen := envOr("LISTEN_ADDR", "127.0.0.1:8080")
	timeout, err := time.ParseDuration(envOr("QUERY_TIMEOUT", "300ms"))
	if err != nil {
		return fmt.Errorf("QUERY_TIMEOUT: %w", err)
	}
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	// The database may still be starting: try for a while before giving up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err = pool.Exec(qctx, `CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, item text NOT NULL, qty int NOT NULL)`)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create table: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var o Order
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.ID == "" || o.Qty <= 0 {
			http.Error(w, `{"error":"want {\"id\": non-empty, \"item\", \"qty\": > 0}"}`, http.StatusBadRequest)
			return
		}
		qctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if _, err := pool.Exec(qctx, `INSERT INTO orders (id, item, qty) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, o.ID, o.Item, o.Qty); err != nil {
			unavailable(w, err)
			return
		}
		write(w, http.StatusCreated, o)
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		qctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		o := Order{ID: r.PathValue("id")}
		err := pool.QueryRow(qctx, `SELECT item, qty FROM orders WHERE id = $1`, o.ID).Scan(&o.Item, &o.Qty)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			http.Error(w, `{"error":"no such order"}`, http.StatusNotFound)
		case err != nil:
			unavailable(w, err)
		default:
			write(w, http.StatusOK, o)
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

// unavailable answers 503: the database did not answer in time, and the write may or
// may not have been committed.
func unavailable(w http.ResponseWriter, err error) {
	write(w, http.StatusServiceUnavailable, map[string]string{"error": "database unavailable: " + err.Error()})
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

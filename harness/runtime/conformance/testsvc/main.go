// Command testsvc is the service every runtime backend is tested against: a tiny HTTP
// server that answers health checks, echoes, keeps one file in its data directory, dials
// other instances, and says on stderr when it starts and which signal stops it.
//
// It reads LISTEN_ADDR (where to bind, default 127.0.0.1:8080), LISTEN_MORE (more
// addresses, comma-separated, served the same way: for named ports), DATA_DIR (where /data
// keeps its file) and HEALTH_DELAY (a Go duration during which /healthz answers 503, so
// a test can tell that Start waited for health rather than for the port).
//
// Endpoints:
//
//	GET  /healthz        200 "ok" once HEALTH_DELAY has passed, 503 before
//	GET  /echo?msg=M     M, and "echo M" on stdout
//	POST /data           writes the body to DATA_DIR/data.txt (fsync'd)
//	GET  /data           the file's content, 404 if none
//	GET  /fetch?addr=A   GET http://A/healthz with a 2 s timeout: 200 with its status, 502 with the error
//	GET  /info           JSON {"args": [...], "env": [...], "pid": N, "uid": N}
//	GET  /listener       the port the request came in on (LISTEN_ADDR's or LISTEN_MORE's)
//	POST /exit?code=N    answers, then exits with code N (a crash, from the runtime's view)
//
// Run as "testsvc exit N" or "testsvc probe ADDR", it is a command instead (see command):
// other arguments are the server's own, shown by /info.
//
// It must stay a static binary with no dependency outside the standard library: the
// docker backend wraps it in a scratch image.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "exit" || os.Args[1] == "probe") {
		os.Exit(command(os.Args[1:]))
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "testsvc: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	addr := envOr("LISTEN_ADDR", "127.0.0.1:8080")
	dataDir := envOr("DATA_DIR", ".")
	var healthDelay time.Duration
	if v := os.Getenv("HEALTH_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("HEALTH_DELAY %q: %w", v, err)
		}
		healthDelay = d
	}
	started := time.Now()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(started) < healthDelay {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		msg := r.URL.Query().Get("msg")
		fmt.Fprintf(os.Stdout, "echo %s\n", msg)
		io.WriteString(w, msg)
	})
	dataFile := filepath.Join(dataDir, "data.txt")
	mux.HandleFunc("POST /data", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = writeSynced(dataFile, body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
		body, err := os.ReadFile(dataFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			http.Error(w, "no data", http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.Write(body)
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get("http://" + r.URL.Query().Get("addr") + "/healthz")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		fmt.Fprintf(w, "%d", resp.StatusCode)
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"args": os.Args[1:],
			"env":  os.Environ(),
			"pid":  os.Getpid(),
			"uid":  os.Getuid(),
		})
	})
	mux.HandleFunc("GET /listener", func(w http.ResponseWriter, r *http.Request) {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if _, port, err := net.SplitHostPort(a.String()); err == nil {
				io.WriteString(w, port)
			}
		}
	})
	mux.HandleFunc("POST /exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintf(os.Stderr, "testsvc exiting with code %d\n", code)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		http.NewResponseController(w).Flush()
		os.Exit(code)
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "testsvc listening on %s\n", ln.Addr())
	served := make(chan error, 1)
	if more := os.Getenv("LISTEN_MORE"); more != "" {
		for _, a := range strings.Split(more, ",") {
			l, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "testsvc listening on %s\n", l.Addr())
			go func() { served <- srv.Serve(l) }()
		}
	}

	term := make(chan os.Signal, 1)
	// Every signal a Spec.StopSignal may name (runtime.StopSignals), so that a runtime's
	// test sees which came.
	names := map[os.Signal]string{
		syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGHUP: "SIGHUP", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2",
	}
	for sig := range names {
		signal.Notify(term, sig)
	}
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case sig := <-term:
		fmt.Fprintf(os.Stderr, "testsvc got %s\n", names[sig])
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		fmt.Fprintln(os.Stderr, "testsvc stopped")
		return nil
	}
}

// command runs testsvc as a command beside a running instance (what Exec runs):
// "exit N" says so and exits with code N; "probe ADDR" exits 0 when GET
// http://ADDR/healthz answers 200, 1 otherwise.
func command(args []string) int {
	switch {
	case len(args) == 2 && args[0] == "exit":
		code, err := strconv.Atoi(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsvc exit %q: not a number\n", args[1])
			return 2
		}
		fmt.Printf("testsvc exiting with code %d\n", code)
		return code
	case len(args) == 2 && args[0] == "probe":
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + args[1] + "/healthz")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
		if resp.StatusCode != http.StatusOK {
			return 1
		}
		return 0
	default:
		fmt.Fprintf(os.Stderr, "testsvc: unknown command %q: use exit N or probe ADDR\n", args)
		return 2
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// writeSynced writes data to path through a temporary file, fsync'd and renamed, so a
// kill at any moment leaves either the old content or the new.
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

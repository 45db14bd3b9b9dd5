package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/store"
)

// Spec is what a service tells the instance lifecycle about itself.
type Spec struct {
	// Name is the service name, registered and logged, e.g. "accounts".
	Name string
	// DefaultPort is the port listened on when LISTEN_ADDR is unset.
	DefaultPort int
	// New builds the service's handler. It reads its own settings from deps.Env (their
	// errors are reported with the common ones). ctx ends after the HTTP server has
	// drained and before the store is closed: stop background work then.
	New func(ctx context.Context, deps Deps) (http.Handler, error)
}

// Deps is what an instance hands its service.
type Deps struct {
	// Settings are the common settings the instance runs with.
	Settings Settings
	// Store is the service's own etcd.
	Store *store.Store
	// Registry is a client of the registry, for services that look others up.
	Registry *discovery.Client
	// Env is where the service reads its own settings.
	Env *config.Env
	// Log carries the service and instance attributes.
	Log *slog.Logger
}

// ErrConfig is wrapped by Run's error when settings are bad; Main exits 2 on it.
var ErrConfig = errors.New("bad settings")

// RunOption customises Run, for tests.
type RunOption func(*runOptions)

type runOptions struct {
	listener net.Listener
	logOut   io.Writer
}

// WithListener serves on l instead of listening on LISTEN_ADDR.
func WithListener(l net.Listener) RunOption { return func(o *runOptions) { o.listener = l } }

// WithLogOutput writes the JSON logs to w (default stderr).
func WithLogOutput(w io.Writer) RunOption { return func(o *runOptions) { o.logOut = w } }

// Main runs the service described by spec until SIGTERM or SIGINT, then exits: status 2
// after printing every bad setting, 1 on any other failure, 0 after a clean stop.
func Main(spec Spec) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := Run(ctx, spec, config.FromOS())
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
		if errors.Is(err, ErrConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Run runs one instance of spec with the settings in env until ctx ends, then stops
// gracefully: deregister, drain HTTP, close the store. Its error wraps ErrConfig, with
// every bad setting, when the settings are bad.
func Run(ctx context.Context, spec Spec, env *config.Env, opts ...RunOption) error {
	o := runOptions{logOut: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	set, errs := load(env, spec.Name, spec.DefaultPort)
	base := slog.New(slog.NewJSONHandler(o.logOut, &slog.HandlerOptions{Level: set.LogLevel}))
	log := base.With("service", set.Service, "instance", set.InstanceID)

	st, err := store.Open(set.EtcdEndpoints, store.WithRequestTimeout(set.StoreTimeout), store.WithAck(set.StoreAck), store.WithLogger(log))
	if err != nil {
		errs = append(errs, fmt.Errorf("ETCD_ENDPOINTS: %w", err))
	}
	if st != nil {
		defer func() {
			if err := st.Close(); err != nil {
				log.Warn("close store", "err", err)
			}
		}()
	}
	appCtx, appCancel := context.WithCancel(context.Background())
	defer appCancel()
	var handler http.Handler
	if st != nil {
		handler, err = spec.New(appCtx, Deps{
			Settings: set,
			Store:    st,
			Registry: discovery.NewClient(set.RegistryAddr),
			Env:      env,
			Log:      log,
		})
	}
	if all := errors.Join(append(errs, env.Err())...); all != nil {
		return fmt.Errorf("%w:\n%w", ErrConfig, all)
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}

	ln := o.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", set.ListenAddr); err != nil {
			return fmt.Errorf("listen on %s (LISTEN_ADDR): %w", set.ListenAddr, err)
		}
	}
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           routes(set, st, handler, &draining, log),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	keeper := discovery.NewKeeper(discovery.NewClient(set.RegistryAddr),
		discovery.Instance{Service: set.Service, ID: set.InstanceID, Address: set.AdvertiseAddr},
		discovery.WithTTL(set.RegistryTTL), discovery.WithHeartbeat(set.Heartbeat),
		discovery.WithReregister(set.Reregister), discovery.WithLogger(base)) // it adds service and instance itself
	keepCtx, stopKeeping := context.WithCancel(context.Background())
	kept := make(chan struct{})
	go func() { defer close(kept); keeper.Run(keepCtx) }()
	log.Info("serving", "listen", ln.Addr().String(), "advertise", set.AdvertiseAddr,
		"registry", set.RegistryAddr, "etcd", set.EtcdEndpoints, "store_ack", set.StoreAck.String(),
		"reregister", set.Reregister)

	var failed error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err := <-serveErr:
		failed = fmt.Errorf("serve: %w", err)
		log.Error("server failed; stopping", "err", err)
	}
	// Stop taking new traffic first: out of the registry, not ready; then drain.
	draining.Store(true)
	stopKeeping()
	<-kept
	shutCtx, cancel := context.WithTimeout(context.Background(), set.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("drain incomplete", "err", err)
	}
	appCancel()
	log.Info("stopped")
	return failed
}

// routes serves the probes next to the service's handler, with panic recovery and an
// access log at debug level.
func routes(set Settings, st *store.Store, h http.Handler, draining *atomic.Bool, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "service": set.Service, "instance": set.InstanceID})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			httpjson.Write(w, http.StatusServiceUnavailable, httpjson.ErrorBody{Error: "shutting down"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			httpjson.Write(w, http.StatusServiceUnavailable, httpjson.ErrorBody{Error: "not ready: " + err.Error()})
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready", "service": set.Service, "instance": set.InstanceID})
	})
	mux.Handle("/", h)
	routed := httpjson.Routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if !sw.wrote {
					httpjson.Write(sw, http.StatusInternalServerError, httpjson.ErrorBody{Error: "internal error"})
				}
			}
			log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start))
		}()
		routed.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

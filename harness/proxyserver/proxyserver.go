package proxyserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"

	"github.com/faultline/faultline/harness/peerroute"
	"github.com/faultline/faultline/harness/toxics"
)

// quietGlobal turns zerolog's global logger down once per process.
var quietGlobal sync.Once

// Server is a running Toxiproxy server: its HTTP API and the proxies made through it.
type Server struct {
	api     *toxiproxy.ApiServer
	routers *peerRouters
	http    *http.Server
	addr    string
	log     *slog.Logger
	once    sync.Once
	err     error
	serve   chan error
}

// Start listens on apiAddr ("127.0.0.1:0" picks a free port; Addr says which) and
// serves the Toxiproxy API, with faultline's toxics registered, until Close. ctx bounds
// the start only. The logger receives Toxiproxy's own records: its errors at Warn (a
// proxy that cannot reach a killed upstream is what chaos looks like), the rest at Debug.
func Start(ctx context.Context, apiAddr string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	toxics.Register()
	quietGlobal.Do(func() {
		// Some of Toxiproxy's toxics (bandwidth) log through zerolog's global logger,
		// to stderr at trace level: keep only its errors.
		zlog.Logger = zlog.Logger.Level(zerolog.ErrorLevel)
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", apiAddr)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy server: listen %s: %w", apiAddr, err)
	}
	level := zerolog.ErrorLevel
	if logger.Enabled(ctx, slog.LevelDebug) {
		level = zerolog.DebugLevel
	}
	zl := zerolog.New(slogWriter{logger}).Level(level).With().Timestamp().Logger()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zl)
	routers := &peerRouters{log: logger, m: map[string]*peerroute.Router{}}
	mux := http.NewServeMux()
	mux.Handle(PeerRoutersPath, routers)
	mux.Handle("/", api.Routes())
	s := &Server{
		api:     api,
		routers: routers,
		addr:    ln.Addr().String(),
		log:     logger,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		serve: make(chan error, 1),
	}
	go func() { s.serve <- s.http.Serve(ln) }()
	logger.Info("toxiproxy server started", "api", s.addr, "version", toxiproxy.Version)
	return s, nil
}

// Addr is the host:port the API listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops the API and deletes every proxy, closing their listeners and
// connections. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs := []error{s.http.Shutdown(ctx)}
		if err := <-s.serve; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		s.routers.closeAll()
		errs = append(errs, s.api.Collection.Clear())
		if err := errors.Join(errs...); err != nil {
			s.err = fmt.Errorf("close toxiproxy server %s: %w", s.addr, err)
		}
		s.log.Info("toxiproxy server closed", "api", s.addr)
	})
	return s.err
}

// expected are the errors Toxiproxy logs when a fault, or a link parked until its
// instance starts, does what it is for: a killed instance's link cannot reach it. They
// are the system under test's news, told by its history, not the harness's trouble, so
// they go out at debug level instead of a warning per connection.
var expected = map[string]bool{
	"Unable to open connection to upstream": true,
}

// slogWriter turns zerolog's JSON lines into slog records: Toxiproxy's errors as
// warnings, but for those expected; the rest at debug level.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	var rec map[string]any
	if err := json.Unmarshal(line, &rec); err != nil {
		w.log.Debug("toxiproxy: " + string(line))
		return len(p), nil
	}
	msg, _ := rec[zerolog.MessageFieldName].(string)
	level := slog.LevelDebug
	switch rec[zerolog.LevelFieldName] {
	case "error", "fatal", "panic":
		if !expected[msg] {
			level = slog.LevelWarn
		}
	}
	for _, k := range []string{zerolog.LevelFieldName, zerolog.MessageFieldName, zerolog.TimestampFieldName} {
		delete(rec, k)
	}
	attrs := make([]any, 0, 2*len(rec))
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		attrs = append(attrs, k, rec[k])
	}
	w.log.Log(context.Background(), level, "toxiproxy: "+msg, attrs...)
	return len(p), nil
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/faultline/faultline/reference-services/config"
)

// settings are the registry's, all from the environment, each with a working default.
type settings struct {
	listen  string        // LISTEN_ADDR
	dataDir string        // DATA_DIR
	ttl     time.Duration // REGISTRY_TTL
	level   slog.Level    // LOG_LEVEL
}

// minTTL keeps REGISTRY_TTL from evicting every instance between two heartbeats.
const minTTL = 100 * time.Millisecond

// loadSettings reads every setting and returns every bad one at once.
func loadSettings(env *config.Env) (settings, error) {
	s := settings{
		listen:  env.HostPort("LISTEN_ADDR", ":8500"),
		dataDir: env.String("DATA_DIR", "data"),
		ttl:     env.Duration("REGISTRY_TTL", 3*time.Second),
	}
	errs := []error{env.Err()}
	if s.ttl < minTTL {
		errs = append(errs, fmt.Errorf("REGISTRY_TTL=%s is too short: give at least %s, like 3s (default 3s)", s.ttl, minTTL))
	}
	raw := env.String("LOG_LEVEL", "info")
	switch strings.ToLower(raw) {
	case "debug":
		s.level = slog.LevelDebug
	case "info":
		s.level = slog.LevelInfo
	case "warn", "warning":
		s.level = slog.LevelWarn
	case "error":
		s.level = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q is not a level: write debug, info, warn or error (default info)", raw))
	}
	return s, errors.Join(errs...)
}

package registry

import (
	"log/slog"
	"time"
)

// Lease bounds and defaults. A register request may ask its own lease length; the
// registry grants it within [MinTTL, MaxTTL].
const (
	// DefaultTTL is the lease length granted when neither the registry nor the request
	// names one: three missed one-second heartbeats.
	DefaultTTL = 3 * time.Second
	// MinTTL is the shortest lease a request may ask for.
	MinTTL = 500 * time.Millisecond
	// MaxTTL is the longest lease a request may ask for.
	MaxTTL = 5 * time.Minute
	// DefaultMaxWait caps how long one blocking query may wait for a change.
	DefaultMaxWait = 60 * time.Second
)

// Option customises a Registry at Open.
type Option func(*settings)

type settings struct {
	ttl     time.Duration
	maxWait time.Duration
	log     *slog.Logger
}

func defaultSettings() settings {
	return settings{ttl: DefaultTTL, maxWait: DefaultMaxWait, log: slog.Default()}
}

// WithTTL sets the lease length granted to a register request that asks for none
// (default DefaultTTL). Values of zero or less keep the default.
func WithTTL(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.ttl = d
		}
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		if l != nil {
			s.log = l
		}
	}
}

// WithMaxWait caps how long a blocking query may wait (default DefaultMaxWait); a query
// with an index and no wait of its own waits this long. Values of zero or less keep the
// default.
func WithMaxWait(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.maxWait = d
		}
	}
}

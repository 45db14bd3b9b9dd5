package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/discovery"
)

// Config holds every setting of the gateway. The zero value is not usable; start from
// DefaultConfig or ConfigFromEnv, whose defaults are the safe ones. The switches that
// turn a property off (Retries 0, Breaker false, Cache false) exist so that the resilience
// suites can prove they go red when that property is missing.
type Config struct {
	// APIKeys are the keys callers must present in X-API-Key (GATEWAY_API_KEYS,
	// comma-separated). An entry "name:rate" or "name:rate:burst" gives that key a rate
	// limit of its own instead of Rate and Burst.
	APIKeys []string
	// Rate is the sustained requests per second allowed per key (GATEWAY_RATE).
	Rate float64
	// Burst is the token bucket size per key (GATEWAY_BURST).
	Burst int
	// Retries is the number of extra attempts an idempotent call may make, each on another
	// instance when one exists (GATEWAY_RETRIES; 0 turns retries off).
	Retries int
	// Breaker turns the per-instance circuit breakers on or off (GATEWAY_BREAKER).
	Breaker bool
	// Cache tells whether the resolver caches instance lists (GATEWAY_CACHE). The gateway
	// does not build its resolver: pass ResolverOptions to discovery.NewResolver.
	Cache bool
	// AttemptTimeout bounds one attempt on one instance, answer body included
	// (GATEWAY_ATTEMPT_TIMEOUT).
	AttemptTimeout time.Duration
	// BreakerDelay is how long a breaker stays open before it lets trial calls through
	// (GATEWAY_BREAKER_DELAY).
	BreakerDelay time.Duration
	// BreakerFailures out of the last BreakerWindow attempts on one instance open its
	// breaker; so do BreakerFailures consecutive failures.
	BreakerFailures int
	// BreakerWindow is the number of recent attempts the failure count is taken over.
	BreakerWindow int
	// BreakerSuccesses consecutive successful trial calls close a half-open breaker; one
	// failed trial opens it again.
	BreakerSuccesses int
	// ResolveTimeout bounds the first lookup of a service in the registry
	// (GATEWAY_RESOLVE_TIMEOUT); later lookups answer from the cache.
	ResolveTimeout time.Duration
	// MaxBodyBytes bounds a request body, which is buffered so that it can be replayed
	// on a retry; past it the gateway answers 413.
	MaxBodyBytes int64
	// MaxResponseBytes bounds an instance's answer body, which is buffered within the
	// attempt so that a failure mid-body can still be retried; past it the gateway answers 502.
	MaxResponseBytes int64
}

// DefaultConfig returns the settings a gateway runs with when nothing is set.
func DefaultConfig() Config {
	return Config{
		APIKeys:          []string{"demo-key"},
		Rate:             200,
		Burst:            400,
		Retries:          2,
		Breaker:          true,
		Cache:            true,
		AttemptTimeout:   time.Second,
		BreakerDelay:     2 * time.Second,
		BreakerFailures:  5,
		BreakerWindow:    10,
		BreakerSuccesses: 2,
		ResolveTimeout:   time.Second,
		MaxBodyBytes:     1 << 20,
		MaxResponseBytes: 8 << 20,
	}
}

// ConfigFromEnv reads the GATEWAY_* variables over DefaultConfig. Bad values are
// collected in env (see config.Env.Err) and leave the default in place; call Validate
// for the checks that span fields.
func ConfigFromEnv(env *config.Env) Config {
	d := DefaultConfig()
	return Config{
		APIKeys:          env.List("GATEWAY_API_KEYS", d.APIKeys),
		Rate:             env.Float("GATEWAY_RATE", d.Rate),
		Burst:            env.Int("GATEWAY_BURST", d.Burst, 1),
		Retries:          env.Int("GATEWAY_RETRIES", d.Retries, 0),
		Breaker:          env.Bool("GATEWAY_BREAKER", d.Breaker),
		Cache:            env.Bool("GATEWAY_CACHE", d.Cache),
		AttemptTimeout:   env.Duration("GATEWAY_ATTEMPT_TIMEOUT", d.AttemptTimeout),
		BreakerDelay:     env.Duration("GATEWAY_BREAKER_DELAY", d.BreakerDelay),
		BreakerFailures:  d.BreakerFailures,
		BreakerWindow:    d.BreakerWindow,
		BreakerSuccesses: d.BreakerSuccesses,
		ResolveTimeout:   env.Duration("GATEWAY_RESOLVE_TIMEOUT", d.ResolveTimeout),
		MaxBodyBytes:     d.MaxBodyBytes,
		MaxResponseBytes: d.MaxResponseBytes,
	}
}

// ResolverOptions returns the discovery.Resolver options this configuration asks for
// (today only the cache switch).
func (c Config) ResolverOptions() []discovery.ResolverOption {
	return []discovery.ResolverOption{discovery.WithCache(c.Cache)}
}

// maxRetries caps Retries: more extra attempts than this only multiply load on a system
// that is already failing.
const maxRetries = 10

// Validate reports every setting that cannot work, each naming the field, its
// variable and the fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	keys := 0
	for _, k := range c.APIKeys {
		if k == "" {
			continue
		}
		if _, _, _, err := parseKey(k); err != nil {
			bad("gateway config: GATEWAY_API_KEYS: %v", err)
			continue
		}
		keys++
	}
	if keys == 0 {
		bad("gateway config: APIKeys is empty: set GATEWAY_API_KEYS to at least one key (default demo-key)")
	}
	if c.Rate <= 0 {
		bad("gateway config: Rate is %g: set GATEWAY_RATE to a number of requests per second > 0 (default 200)", c.Rate)
	}
	if c.Burst < 1 {
		bad("gateway config: Burst is %d: set GATEWAY_BURST to a whole number >= 1 (default 400)", c.Burst)
	}
	if c.Retries < 0 || c.Retries > maxRetries {
		bad("gateway config: Retries is %d: set GATEWAY_RETRIES between 0 and %d (default 2)", c.Retries, maxRetries)
	}
	if c.AttemptTimeout <= 0 {
		bad("gateway config: AttemptTimeout is %s: set GATEWAY_ATTEMPT_TIMEOUT to a duration > 0 such as 1s", c.AttemptTimeout)
	}
	if c.BreakerDelay <= 0 {
		bad("gateway config: BreakerDelay is %s: set GATEWAY_BREAKER_DELAY to a duration > 0 such as 2s", c.BreakerDelay)
	}
	if c.ResolveTimeout <= 0 {
		bad("gateway config: ResolveTimeout is %s: set GATEWAY_RESOLVE_TIMEOUT to a duration > 0 such as 1s", c.ResolveTimeout)
	}
	if c.BreakerFailures < 1 {
		bad("gateway config: BreakerFailures is %d: set it to 1 or more (default 5)", c.BreakerFailures)
	}
	if c.BreakerWindow < c.BreakerFailures {
		bad("gateway config: BreakerWindow is %d, below BreakerFailures %d: set it to at least BreakerFailures (default 10)", c.BreakerWindow, c.BreakerFailures)
	}
	if c.BreakerSuccesses < 1 {
		bad("gateway config: BreakerSuccesses is %d: set it to 1 or more (default 2)", c.BreakerSuccesses)
	}
	if c.MaxBodyBytes < 1 {
		bad("gateway config: MaxBodyBytes is %d: set it to 1 or more (default 1 MiB)", c.MaxBodyBytes)
	}
	if c.MaxResponseBytes < 1 {
		bad("gateway config: MaxResponseBytes is %d: set it to 1 or more (default 8 MiB)", c.MaxResponseBytes)
	}
	return errors.Join(errs...)
}

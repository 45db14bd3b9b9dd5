package gateway

import (
	"crypto/subtle"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// APIKeyHeader is the request header that carries the caller's API key. The gateway
// never forwards it to an instance.
const APIKeyHeader = "X-API-Key"

// access is the access policy: which keys may call, and how fast each may call. A
// limiter is made the first time its key is seen; only known keys reach that point, so
// the map is bounded by the configured keys.
type access struct {
	keys  [][]byte
	rate  rate.Limit
	burst int
	// own holds the limits of keys configured with one of their own ("name:rate:burst").
	own map[string]keyLimit

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// keyLimit is one key's own rate limit.
type keyLimit struct {
	rate  float64
	burst int
}

// parseKey reads one GATEWAY_API_KEYS entry: "name", "name:rate" (burst = rate) or
// "name:rate:burst", so that callers can have tiers of their own.
func parseKey(entry string) (name string, lim keyLimit, own bool, err error) {
	parts := strings.Split(entry, ":")
	name = parts[0]
	switch len(parts) {
	case 1:
		return name, keyLimit{}, false, nil
	case 2, 3:
		r, perr := strconv.ParseFloat(parts[1], 64)
		if perr != nil || r <= 0 {
			return name, keyLimit{}, false, fmt.Errorf("key %q: rate %q is not a number > 0: write name:rate or name:rate:burst, like tier-a:50:100", name, parts[1])
		}
		lim = keyLimit{rate: r, burst: max(1, int(math.Ceil(r)))}
		if len(parts) == 3 {
			b, berr := strconv.Atoi(parts[2])
			if berr != nil || b < 1 {
				return name, keyLimit{}, false, fmt.Errorf("key %q: burst %q is not a whole number >= 1: write name:rate:burst, like tier-a:50:100", name, parts[2])
			}
			lim.burst = b
		}
		return name, lim, true, nil
	}
	return name, keyLimit{}, false, fmt.Errorf("key %q has %d ':'-separated parts: write name, name:rate or name:rate:burst", entry, len(parts))
}

func newAccess(keys []string, perSecond float64, burst int) *access {
	a := &access{rate: rate.Limit(perSecond), burst: burst, own: map[string]keyLimit{}, limiters: map[string]*rate.Limiter{}}
	for _, k := range keys {
		name, lim, own, err := parseKey(k)
		if name == "" || err != nil {
			continue // Config.Validate has refused it already
		}
		a.keys = append(a.keys, []byte(name))
		if own {
			a.own[name] = lim
		}
	}
	return a
}

// known tells whether key is one of the configured keys, comparing in constant time so
// that the answer time does not leak how much of a key was right.
func (a *access) known(key string) bool {
	if key == "" {
		return false
	}
	found := 0
	for _, k := range a.keys {
		found |= subtle.ConstantTimeCompare(k, []byte(key))
	}
	return found == 1
}

// allow takes one token from key's bucket. When the bucket is empty it takes nothing and
// returns how long the caller should wait before the next call would pass.
func (a *access) allow(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	a.mu.Lock()
	lim, found := a.limiters[key]
	if !found {
		lim = rate.NewLimiter(a.rate, a.burst)
		if own, ok := a.own[key]; ok {
			lim = rate.NewLimiter(rate.Limit(own.rate), own.burst)
		}
		a.limiters[key] = lim
	}
	a.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one, as Retry-After wants.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

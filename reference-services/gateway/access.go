package gateway

import (
	"crypto/subtle"
	"math"
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

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

func newAccess(keys []string, perSecond float64, burst int) *access {
	a := &access{rate: rate.Limit(perSecond), burst: burst, limiters: map[string]*rate.Limiter{}}
	for _, k := range keys {
		if k != "" {
			a.keys = append(a.keys, []byte(k))
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

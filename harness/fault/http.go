package fault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// HTTPFault fails or delays chosen HTTP requests through a link, the way a sick
// dependency does: some requests, not whole connections (Toxiproxy's toxicity is drawn
// per connection, so with keep-alive it cannot hit "30% of requests"). It uses
// faultline's own "http" toxic.
type HTTPFault struct {
	onLink
	action     string // "fail" or "delay"
	status     int
	delay      time.Duration
	pathPrefix string
	method     string
	header     string
	fraction   float64
	firstN     int
	seed       int64
	seedGiven  bool
}

var _ Fault = (*HTTPFault)(nil)

// HTTPOption chooses which requests an HTTP fault hits.
type HTTPOption func(*HTTPFault)

// OnPath hits only requests whose path starts with prefix.
func OnPath(prefix string) HTTPOption { return func(f *HTTPFault) { f.pathPrefix = prefix } }

// OnMethod hits only requests with this method ("POST").
func OnMethod(method string) HTTPOption { return func(f *HTTPFault) { f.method = method } }

// OnHeader hits only requests that carry header name with this value.
func OnHeader(name, value string) HTTPOption {
	return func(f *HTTPFault) { f.header = name + ": " + value }
}

// Fraction hits this share of the matching requests, in (0, 1] (default 1), drawn from
// the fault's seed so that a run replays.
func Fraction(p float64) HTTPOption { return func(f *HTTPFault) { f.fraction = p } }

// FirstN hits only the first n matching requests (default: no limit).
func FirstN(n int) HTTPOption { return func(f *HTTPFault) { f.firstN = n } }

// HTTPSeed fixes the seed Fraction draws from; without it the scope derives one from
// the run's seed.
func HTTPSeed(seed int64) HTTPOption {
	return func(f *HTTPFault) { f.seed, f.seedGiven = seed, true }
}

// HTTPError answers the chosen requests through link with status, without passing them
// on: fault.HTTPError(link, 503, fault.OnPath("/api/"), fault.Fraction(0.3)).
func HTTPError(link *netfault.Link, status int, opts ...HTTPOption) *HTTPFault {
	return newHTTP(link, "fail", status, 0, opts)
}

// HTTPDelay holds the chosen requests through link for delay before passing them on.
func HTTPDelay(link *netfault.Link, delay time.Duration, opts ...HTTPOption) *HTTPFault {
	return newHTTP(link, "delay", 0, delay, opts)
}

func newHTTP(link *netfault.Link, action string, status int, delay time.Duration, opts []HTTPOption) *HTTPFault {
	f := &HTTPFault{
		onLink: newOnLink("http", link, []ToxicOption{Stream(netfault.Upstream)}),
		action: action, status: status, delay: delay, fraction: 1,
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// seedFromRun takes the scope's seed unless HTTPSeed gave one.
func (f *HTTPFault) seedFromRun(seed int64) {
	if !f.seedGiven {
		f.seed = seed
	}
}

// Validate checks the parameters.
func (f *HTTPFault) Validate() error {
	if err := f.validate(); err != nil {
		return err
	}
	switch {
	case f.action == "fail" && (f.status < 200 || f.status > 599):
		return badParam(f.kind, "status", f.status, "give an HTTP status between 200 and 599, e.g. 503")
	case f.action == "delay" && f.delay < time.Millisecond:
		return badParam(f.kind, "delay", f.delay, "give a duration of at least 1ms")
	case !(f.fraction > 0 && f.fraction <= 1):
		return badParam(f.kind, "Fraction", f.fraction, "give a share of requests in (0, 1]; 1 hits every matching request")
	case f.firstN < 0:
		return badParam(f.kind, "FirstN", f.firstN, "give a number of requests >= 0 (0: no limit)")
	case f.firstN > 0 && f.fraction != 1:
		return badParam(f.kind, "FirstN", f.firstN, "FirstN hits every one of the first N requests: drop Fraction, or drop FirstN")
	case f.pathPrefix != "" && !strings.HasPrefix(f.pathPrefix, "/"):
		return badParam(f.kind, "OnPath", f.pathPrefix, `give a path that starts with "/"`)
	}
	return nil
}

// Inject adds the http toxic.
func (f *HTTPFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	attrs := map[string]any{
		"action":   f.action,
		"fraction": f.fraction,
		"seed":     f.seed,
	}
	if f.action == "fail" {
		attrs["status"] = f.status
	} else {
		attrs["delay_ms"] = ms(f.delay)
	}
	for k, v := range map[string]string{"path_prefix": f.pathPrefix, "method": f.method, "header": f.header} {
		if v != "" {
			attrs[k] = v
		}
	}
	if f.firstN > 0 {
		attrs["first_n"] = f.firstN
	}
	return f.add(ctx, "http", attrs)
}

// Verify sees the toxic on the proxy: which requests it hits is for the load to show.
func (f *HTTPFault) Verify(ctx context.Context) error { return f.listed(ctx) }

// String reads "HTTP 503 on 30% of GET /api/ requests on accounts-1".
func (f *HTTPFault) String() string {
	var b strings.Builder
	if f.action == "fail" {
		fmt.Fprintf(&b, "HTTP %d", f.status)
		if t := http.StatusText(f.status); t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
	} else {
		fmt.Fprintf(&b, "HTTP delay %v", f.delay)
	}
	b.WriteString(" on ")
	if f.firstN > 0 {
		fmt.Fprintf(&b, "the first %d ", f.firstN)
	}
	if f.fraction < 1 {
		fmt.Fprintf(&b, "%g%% of ", f.fraction*100)
	}
	if f.method != "" {
		b.WriteString(f.method + " ")
	}
	if f.pathPrefix != "" {
		b.WriteString(f.pathPrefix + "* ")
	}
	b.WriteString("requests")
	if f.header != "" {
		fmt.Fprintf(&b, " with %q", f.header)
	}
	fmt.Fprintf(&b, " on %s", f.Target())
	return b.String()
}

package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/faultline/faultline/reference-services/discovery"
)

// Headers the gateway sets on every answer to an /api/ call.
const (
	// ServedByHeader names the instance that produced the answer the client got.
	ServedByHeader = "X-Served-By"
	// AttemptsHeader counts the attempts sent to instances for this call (0 when none
	// could be sent).
	AttemptsHeader = "X-Attempts"
)

// apiPrefix is the path under which services are reached.
const apiPrefix = "/api/"

// statusClientGone is what the metrics record when the client left before its answer
// (nginx's convention); the client never sees it.
const statusClientGone = 499

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1): they describe one
// connection and are never forwarded, in either direction.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// outbound is the part of a client's call that every attempt replays.
type outbound struct {
	method string
	target string // path and query, e.g. /accounts/7?full=1
	header http.Header
	body   []byte
}

// serveAPI handles /api/<service>/<rest>: access policy, then routing with retries.
func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request) {
	service, rest, ok := splitAPIPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, errorBody{Error: "no route: call /api/<service>/<path>"})
		return
	}
	key := r.Header.Get(APIKeyHeader)
	if !g.access.known(key) {
		g.metrics.requests.WithLabelValues("", strconv.Itoa(http.StatusUnauthorized)).Inc()
		msg := "missing " + APIKeyHeader + " header"
		if key != "" {
			msg = "unknown API key in " + APIKeyHeader
		}
		writeError(w, http.StatusUnauthorized, errorBody{Error: msg})
		return
	}
	if !validServiceName(service) {
		g.metrics.requests.WithLabelValues("", strconv.Itoa(http.StatusBadRequest)).Inc()
		writeError(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("bad service name %q: use letters, digits and . _ - : @", service)})
		return
	}
	if wait, ok := g.access.allow(key, time.Now()); !ok {
		g.metrics.rateLimited.Inc()
		g.metrics.requests.WithLabelValues(service, strconv.Itoa(http.StatusTooManyRequests)).Inc()
		secs := retryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, errorBody{Error: fmt.Sprintf("rate limit of this API key exceeded: retry after %d s", secs), Service: service})
		return
	}

	code := g.route(w, r, service, rest)
	g.metrics.requests.WithLabelValues(service, strconv.Itoa(code)).Inc()
}

// route forwards one authorised call to an instance of service and writes the answer.
// It returns the status the client got, for the metrics.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request, service, rest string) int {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			return writeError(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body over %d bytes", g.cfg.MaxBodyBytes), Service: service})
		}
		return writeError(w, http.StatusBadRequest, errorBody{Error: "read request body: " + err.Error(), Service: service})
	}
	w.Header().Set(AttemptsHeader, "0")

	list, err := g.resolve(r.Context(), service)
	if err != nil {
		g.log.Debug("resolve failed", "target", service, "err", err)
		return writeError(w, http.StatusServiceUnavailable, errorBody{Error: fmt.Sprintf("no live instance of %s: %v", service, err), Service: service})
	}
	pool, order := g.balancer.members(service, list)
	if len(order) == 0 {
		return writeError(w, http.StatusServiceUnavailable, errorBody{Error: fmt.Sprintf("no live instance of %s", service), Service: service})
	}

	out := &outbound{method: r.Method, target: rest, header: forwardHeader(r), body: body}
	if r.URL.RawQuery != "" {
		out.target += "?" + r.URL.RawQuery
	}
	var (
		attempts  int
		last      *member
		lastA     *answer
		lastErr   error
		tried     = map[string]bool{}
		refused   = map[string]bool{}
		oneMember = func(ctx context.Context) (*answer, error) {
			for {
				m := pool.pick(order, tried, refused)
				if m == nil {
					return nil, errNoInstance
				}
				start := time.Now()
				a, err := g.policies.attempt(ctx, m.breaker, func(ctx context.Context) (*answer, error) {
					return g.send(ctx, m.inst, out)
				})
				if errors.Is(err, circuitbreaker.ErrOpen) {
					// Its breaker refused the permit (half-open, trials taken): nothing was
					// sent, so this is no attempt; try the next instance.
					refused[m.inst.ID] = true
					continue
				}
				tried[m.inst.ID] = true
				attempts++
				last, lastA, lastErr = m, a, err
				g.observe(service, m.inst.ID, time.Since(start), a, err)
				return a, err
			}
		}
	)
	a, err := g.policies.call(r.Context(), idempotent(r), oneMember)
	if errors.Is(err, errNoInstance) && attempts > 0 {
		// The retry found no other instance to try: answer with the last real attempt.
		a, err = lastA, lastErr
	}
	if attempts > 1 {
		g.metrics.retries.WithLabelValues(service).Add(float64(attempts - 1))
	}
	switch {
	case r.Context().Err() != nil:
		return statusClientGone
	case err == nil && a != nil:
		return writeAnswer(w, r, a, attempts)
	}
	w.Header().Set(AttemptsHeader, strconv.Itoa(attempts))
	eb := errorBody{Service: service, Attempts: attempts}
	if last != nil {
		eb.Instance = last.inst.ID
	}
	switch {
	case errors.Is(err, errNoInstance):
		eb.Error = fmt.Sprintf("no live instance of %s: every circuit breaker is open", service)
		return writeError(w, http.StatusServiceUnavailable, eb)
	case errors.Is(err, timeout.ErrExceeded):
		eb.Error = fmt.Sprintf("%s did not answer within %s", service, g.cfg.AttemptTimeout)
		return writeError(w, http.StatusGatewayTimeout, eb)
	default:
		eb.Error = fmt.Sprintf("%s could not be reached: %v", service, err)
		return writeError(w, http.StatusBadGateway, eb)
	}
}

// resolvePoll is how often a first lookup checks whether the registry has already
// answered its watch with an error.
const resolvePoll = 25 * time.Millisecond

// resolve returns the instances of service from the resolver, bounded by
// ResolveTimeout. Once the resolver has answered for a service it answers from its cache
// at once. Before that, a service whose watch has only met errors (registry refusing
// connections, say) fails within resolvePoll rather than making every caller wait out
// the timeout.
func (g *Gateway) resolve(ctx context.Context, service string) ([]discovery.Instance, error) {
	if !g.cfg.Cache || g.resolved(service) {
		// Without the cache every lookup is one call to the registry; with it, a
		// resolved service answers from the cache.
		ctx, cancel := context.WithTimeout(ctx, g.cfg.ResolveTimeout)
		defer cancel()
		return g.resolver.Instances(ctx, service)
	}
	deadline := time.Now().Add(g.cfg.ResolveTimeout)
	for {
		if st, ok := g.resolver.Status()[service]; ok && st.LastContact.IsZero() && st.LastError != "" {
			return nil, fmt.Errorf("registry has not listed %s yet: %s", service, st.LastError)
		}
		step, cancel := context.WithTimeout(ctx, min(resolvePoll, time.Until(deadline)))
		list, err := g.resolver.Instances(step, service)
		cancel()
		if err == nil {
			g.markResolved(service)
			return list, nil
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return nil, err
		}
	}
}

// send makes one attempt on inst and reads its whole answer, all within ctx.
func (g *Gateway) send(ctx context.Context, inst discovery.Instance, out *outbound) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, out.method, instanceURL(inst.Address)+out.target, nil)
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", inst.ID, err)
	}
	req.Header = out.header.Clone()
	if len(out.body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(out.body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(out.body)), nil }
		req.ContentLength = int64(len(out.body))
	}
	resp, err := g.transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("call %s at %s: %w", inst.ID, inst.Address, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, g.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s at %s: %w", inst.ID, inst.Address, err)
	}
	if int64(len(body)) > g.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("%s answered over %d bytes: %w", inst.ID, g.cfg.MaxResponseBytes, errResponseTooLarge)
	}
	return &answer{instance: inst, status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// observe records one attempt in the metrics and the debug log.
func (g *Gateway) observe(service, id string, took time.Duration, a *answer, err error) {
	outcome := "ok"
	switch {
	case err == nil && retryableStatus(a.status):
		outcome = "http_error"
	case err == nil:
	case errors.Is(err, context.Canceled):
		outcome = "canceled"
	case errors.Is(err, timeout.ErrExceeded):
		outcome = "timeout"
	case errors.Is(err, errResponseTooLarge):
		outcome = "too_large"
	default:
		outcome = "conn_error"
	}
	g.metrics.attempts.WithLabelValues(service, id, outcome).Inc()
	g.metrics.latency.WithLabelValues(service).Observe(took.Seconds())
	if outcome != "ok" {
		g.log.Debug("attempt failed", "target", service, "instance", id, "outcome", outcome, "err", err)
	}
}

// writeAnswer copies an instance's answer to the client, with the gateway's headers.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *answer, attempts int) int {
	h := w.Header()
	for k, vs := range a.header {
		h[k] = append([]string(nil), vs...)
	}
	removeHopHeaders(h)
	if r.Method != http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
	}
	h.Set(ServedByHeader, a.instance.ID)
	h.Set(AttemptsHeader, strconv.Itoa(attempts))
	w.WriteHeader(a.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
	return a.status
}

// forwardHeader returns the headers an instance gets: the client's, minus hop-by-hop
// headers and the API key, plus X-Forwarded-*.
func forwardHeader(r *http.Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	removeHopHeaders(h)
	h.Del(APIKeyHeader)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set("X-Forwarded-For", ip)
	}
	h.Set("X-Forwarded-Host", r.Host)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // send none rather than Go's default
	}
	return h
}

// removeHopHeaders deletes the hop-by-hop headers, including any that Connection names.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// splitAPIPath splits /api/<service>/<rest> into the service and /<rest>, keeping rest
// escaped as the client sent it.
func splitAPIPath(p string) (service, rest string, ok bool) {
	tail, found := strings.CutPrefix(p, apiPrefix)
	if !found {
		return "", "", false
	}
	service, rest, _ = strings.Cut(tail, "/")
	if service == "" {
		return "", "", false
	}
	return service, "/" + rest, true
}

// validServiceName accepts the names the registry accepts: up to 128 letters, digits
// and '.', '_', '-', ':', '@', starting with a letter or digit.
func validServiceName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._-:@", rune(c))) {
			return false
		}
	}
	return true
}

// instanceURL turns an advertised address (host:port, or a URL) into a base URL.
func instanceURL(addr string) string {
	if strings.Contains(addr, "://") {
		return strings.TrimRight(addr, "/")
	}
	return "http://" + addr
}

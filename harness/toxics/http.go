package toxics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	tox "github.com/Shopify/toxiproxy/v2/toxics"
)

// TypeHTTP is the toxic type of HTTP, for the upstream stream.
const TypeHTTP = "http"

// The actions an HTTP rule takes on a request it hits.
const (
	// ActionFail answers the request with a synthetic error; it never reaches the server.
	ActionFail = "fail"
	// ActionDelay holds the request for delay_ms before it goes on to the server.
	ActionDelay = "delay"
)

// What a synthetic answer carries, so that a client (and a checker) can tell it from
// the server's own.
const (
	// FaultHeader is the header every synthetic answer carries, valued FaultHeaderValue.
	FaultHeader      = "X-Faultline-Fault"
	FaultHeaderValue = "http"
	// FaultBody is the JSON body of a synthetic answer.
	FaultBody = `{"error":"faultline http fault"}` + "\n"
	// DefaultStatus is the status of a synthetic answer when the rule gives none.
	DefaultStatus = http.StatusServiceUnavailable
)

// HTTPRule says which requests an http toxic matches, which of those it hits, and what
// it does to them. The zero rule (no action) lets every request through.
type HTTPRule struct {
	// Name labels a rule in HTTP.Rules (netfault puts one fault's name there); the
	// flat rule needs none.
	Name string `json:"name,omitempty"`
	// Action is ActionFail, ActionDelay, or empty to let every request through.
	Action string `json:"action"`
	// PathPrefix matches requests whose path starts with it ("/api/accounts"); empty
	// matches every path.
	PathPrefix string `json:"path_prefix"`
	// Method matches requests made with it ("GET", or a list: "POST,PUT"); empty
	// matches every method.
	Method string `json:"method"`
	// Header matches requests carrying a header: "Name: value" for that value, "Name"
	// for any value; empty matches every request.
	Header string `json:"header"`
	// Fraction is the share of matching requests hit, in [0, 1], drawn per request
	// from Seed and the request's rank among the ones this rule matched, so that a run
	// with the same seed and the same request order hits the same requests. 0 means
	// every one (as with toxicity, 0 never means never).
	Fraction float64 `json:"fraction"`
	// FirstN, when > 0, hits only the first N matching requests (Fraction must then be
	// 0 or 1).
	FirstN int64 `json:"first_n"`
	// Seed seeds the draws: give the run's seed.
	Seed int64 `json:"seed"`
	// Status is a failed request's answer status, 200..599; 0 means DefaultStatus.
	Status int `json:"status"`
	// DelayMs is how long ActionDelay holds a request, in milliseconds.
	DelayMs int64 `json:"delay_ms"`
}

// Validate says what is wrong with a rule, naming the attribute and the fix.
func (r HTTPRule) Validate() error {
	switch r.Action {
	case "", ActionFail, ActionDelay:
	default:
		return fmt.Errorf("http toxic: action %q: want %q, %q, or empty to let requests through",
			r.Action, ActionFail, ActionDelay)
	}
	if math.IsNaN(r.Fraction) || r.Fraction < 0 || r.Fraction > 1 {
		return fmt.Errorf("http toxic: fraction %v: want a share of matching requests in [0, 1] (0 means every one)", r.Fraction)
	}
	if r.FirstN < 0 {
		return fmt.Errorf("http toxic: first_n %d: want >= 0 (0 means no limit)", r.FirstN)
	}
	if r.FirstN > 0 && r.Fraction != 0 && r.Fraction != 1 {
		return fmt.Errorf("http toxic: fraction %v and first_n %d both set: give one of them", r.Fraction, r.FirstN)
	}
	if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
		return fmt.Errorf("http toxic: status %d: want 200..599 (0 means %d)", r.Status, DefaultStatus)
	}
	if r.DelayMs < 0 {
		return fmt.Errorf("http toxic: delay_ms %d: want >= 0 milliseconds", r.DelayMs)
	}
	if r.Action == ActionDelay && r.DelayMs == 0 {
		return fmt.Errorf("http toxic: action %q with delay_ms 0: give the delay in milliseconds", ActionDelay)
	}
	if r.Action != ActionDelay && r.DelayMs != 0 {
		return fmt.Errorf("http toxic: delay_ms %d with action %q: delay_ms only applies to action %q",
			r.DelayMs, r.Action, ActionDelay)
	}
	if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
		return fmt.Errorf("http toxic: path_prefix %q: want a path starting with /", r.PathPrefix)
	}
	if r.Header != "" {
		if name, _ := splitHeader(r.Header); !isToken(name) {
			return fmt.Errorf(`http toxic: header %q: want "Name: value" or "Name"`, r.Header)
		}
	}
	if r.Method != "" {
		for _, m := range strings.Split(r.Method, ",") {
			if !isToken(strings.TrimSpace(m)) {
				return fmt.Errorf(`http toxic: method %q: want a method ("GET") or a list ("POST,PUT")`, r.Method)
			}
		}
	}
	return nil
}

// matches reports whether a request is one the rule is about.
func (r *HTTPRule) matches(h *head) bool {
	if r.Method != "" {
		ok := false
		for _, m := range strings.Split(r.Method, ",") {
			ok = ok || strings.EqualFold(strings.TrimSpace(m), h.method)
		}
		if !ok {
			return false
		}
	}
	if r.PathPrefix != "" && !strings.HasPrefix(h.path(), r.PathPrefix) {
		return false
	}
	if r.Header != "" {
		if name, value := splitHeader(r.Header); !h.header(name, value) {
			return false
		}
	}
	return true
}

// hits reports whether the rank'th matching request (from 0) is hit.
func (r *HTTPRule) hits(rank uint64) bool {
	if r.FirstN > 0 {
		return rank < uint64(r.FirstN)
	}
	if r.Fraction == 0 || r.Fraction >= 1 {
		return true
	}
	return rand.New(rand.NewPCG(uint64(r.Seed), rank)).Float64() < r.Fraction // #nosec G404 -- reproducible draws, not secrets
}

// splitHeader splits "Name: value" (or "Name").
func splitHeader(s string) (name, value string) {
	name, value, _ = strings.Cut(s, ":")
	return strings.TrimSpace(name), strings.TrimSpace(value)
}

// HTTP is a toxic that decides per request, not per connection, which matters because
// toxiproxy's toxicity is drawn once per connection and keep-alive connections carry
// many requests. On the upstream stream it reads each HTTP/1.x request (bodies framed by
// Content-Length or chunked encoding), and for the requests a rule hits either holds
// them (ActionDelay) or swallows them and has the paired http_response toxic answer in
// their turn (ActionFail), so that pipelined and keep-alive ordering stays right. A
// stream that is not HTTP/1.x passes through untouched, as does everything after a
// CONNECT or an Upgrade.
//
// Its attributes are one rule, flat (action, path_prefix, ...), and further named rules
// in "rules"; the first rule that matches a request and hits it acts. They can change
// while connections run (toxiproxy's toxic update): the new rules apply from the next
// request, and a rule keeps its count of matching requests as long as it stays the same.
type HTTP struct {
	HTTPRule
	// Pair is the key shared with the http_response toxic on the proxy's downstream
	// stream, which writes synthetic answers in their turn; unique per proxy and
	// server. Both must be on the proxy before it takes traffic (netfault does this).
	// Without a paired http_response, a failed request closes its connection instead
	// of being answered.
	Pair string `json:"pair"`
	// Rules are further rules, each with a Name unique among them.
	Rules []HTTPRule `json:"rules,omitempty"`

	mu    sync.Mutex // guards the attributes and ranks against updates while connections read
	ranks []uint64   // per rule (flat first): matching requests seen since it was set
}

var (
	_ tox.Toxic         = (*HTTP)(nil)
	_ tox.StatefulToxic = (*HTTP)(nil)
	_ tox.CleanupToxic  = (*HTTP)(nil)
	_ json.Marshaler    = (*HTTP)(nil)
	_ json.Unmarshaler  = (*HTTP)(nil)
)

// httpAttrs is HTTP's attributes without its methods and lock.
type httpAttrs struct {
	HTTPRule
	Pair  string     `json:"pair"`
	Rules []HTTPRule `json:"rules,omitempty"`
}

// validate says what is wrong with the attributes, naming the attribute and the fix.
func (a httpAttrs) validate() error {
	if err := a.HTTPRule.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, r := range a.Rules {
		if r.Name == "" || seen[r.Name] {
			return fmt.Errorf("http toxic: rules[%d]: name %q: give each rule a name of its own", i, r.Name)
		}
		seen[r.Name] = true
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rules[%d] (%s): %w", i, r.Name, err)
		}
	}
	return nil
}

// all lists the rules in the order they are tried.
func (a *httpAttrs) all() []HTTPRule { return append([]HTTPRule{a.HTTPRule}, a.Rules...) }

// attrs copies the attributes under the lock.
func (t *HTTP) attrs() httpAttrs {
	t.mu.Lock()
	defer t.mu.Unlock()
	return httpAttrs{HTTPRule: t.HTTPRule, Pair: t.Pair, Rules: slices.Clone(t.Rules)}
}

// UnmarshalJSON sets the attributes from toxiproxy's, over the current ones (an update
// names only what changes), rejecting unknown attributes and invalid rules.
func (t *HTTP) UnmarshalJSON(data []byte) error {
	old := t.attrs()
	in := struct {
		HTTPRule
		Pair  string      `json:"pair"`
		Rules *[]HTTPRule `json:"rules"` // a list given replaces the old one whole
	}{HTTPRule: old.HTTPRule, Pair: old.Pair}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("http toxic attributes: %w", err)
	}
	a := httpAttrs{HTTPRule: in.HTTPRule, Pair: in.Pair, Rules: old.Rules}
	if in.Rules != nil {
		a.Rules = *in.Rules
	}
	if err := a.validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	was, ranks := old.all(), make([]uint64, 1+len(a.Rules))
	for i, r := range a.all() {
		for j, w := range was {
			if r == w && j < len(t.ranks) && (i == 0) == (j == 0) {
				ranks[i] = t.ranks[j] // unchanged: it keeps counting
			}
		}
	}
	t.HTTPRule, t.Pair, t.Rules, t.ranks = a.HTTPRule, a.Pair, a.Rules, ranks
	return nil
}

// MarshalJSON writes the attributes as toxiproxy lists them.
func (t *HTTP) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.attrs())
}

// verdict is what the rule does to one request.
type verdict struct {
	action string
	status int
	delay  time.Duration
}

// decide applies the rules to a request, in the connection's order.
func (t *HTTP) decide(h *head) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ranks) < 1+len(t.Rules) { // a toxic made without UnmarshalJSON
		t.ranks = append(t.ranks, make([]uint64, 1+len(t.Rules)-len(t.ranks))...)
	}
	for i := range 1 + len(t.Rules) {
		r := &t.HTTPRule
		if i > 0 {
			r = &t.Rules[i-1]
		}
		if r.Action == "" || !r.matches(h) {
			continue
		}
		rank := t.ranks[i]
		t.ranks[i]++
		if !r.hits(rank) {
			continue
		}
		v := verdict{action: r.Action, status: r.Status, delay: time.Duration(r.DelayMs) * time.Millisecond}
		if v.status == 0 {
			v.status = DefaultStatus
		}
		return v
	}
	return verdict{}
}

// disposition is what happens to the bytes of the request in progress.
type disposition uint8

const (
	pass disposition = iota
	drop
	hold
)

// due is a chunk that may not leave before at.
type due struct {
	c  *stream.StreamChunk
	at time.Time
}

// httpUp is the upstream half's state for one connection; it survives the interrupts
// toxiproxy sends when it rewires a connection's toxics.
type httpUp struct {
	conn      *httpConn
	f         framer
	cur       disposition // of the request in progress
	curAt     time.Time   // when its bytes may leave (hold)
	curClose  bool        // it was failed and closes the connection
	curTunnel bool        // CONNECT or Upgrade, let through
	out       []due       // in order
	opaque    bool        // pass everything from now on
	discard   bool        // drop everything from now on
	kill      bool        // close the connection once out is written
	waitPair  bool        // a failed request waits for the downstream half
	headSince time.Time   // when the partial head held back started
	eof       bool        // the client stopped sending
}

// NewState creates a connection's upstream state and offers it to its downstream half.
func (t *HTTP) NewState() interface{} {
	t.mu.Lock()
	pair := t.Pair
	t.mu.Unlock()
	c := newHTTPConn()
	if pair == "" {
		c.abandon()
	} else {
		offer(pair, c)
	}
	return &httpUp{conn: c}
}

// Pipe runs the upstream half of one connection until its input ends or toxiproxy
// interrupts it (its state carries over to the next Pipe).
func (t *HTTP) Pipe(stub *tox.ToxicStub) {
	st, ok := stub.State.(*httpUp)
	if !ok {
		new(tox.NoopToxic).Pipe(stub)
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if !st.flush(stub) {
			return
		}
		if len(st.out) == 0 && (st.kill || st.eof) {
			stub.Close()
			if st.kill {
				drain(stub)
			}
			return
		}
		var wake <-chan time.Time
		if at, ok := st.deadline(); ok {
			timer.Reset(time.Until(at))
			wake = timer.C
		}
		in := stub.Input
		if st.eof || st.kill {
			in = nil
		}
		select {
		case <-stub.Interrupt:
			return
		case c := <-in:
			if c == nil {
				st.eof = true
				st.release(time.Now())
				continue
			}
			st.feed(t, c)
		case now := <-wake:
			st.tick(now)
		}
	}
}

// Cleanup lets everything held go at once when the toxic is removed.
func (t *HTTP) Cleanup(stub *tox.ToxicStub) {
	st, ok := stub.State.(*httpUp)
	if !ok {
		return
	}
	st.release(time.Time{})
	for _, d := range st.out {
		_ = stub.WriteOutput(d.c, 5*time.Second)
	}
	st.out = nil
	st.conn.setOpaque()
}

// flush writes every chunk that is due; false when interrupted.
func (st *httpUp) flush(stub *tox.ToxicStub) bool {
	now := time.Now()
	for len(st.out) > 0 && !st.out[0].at.After(now) {
		select {
		case stub.Output <- st.out[0].c:
			st.out[0] = due{}
			st.out = st.out[1:]
		case <-stub.Interrupt:
			return false
		}
	}
	return true
}

// deadline is the next moment something is due without new input.
func (st *httpUp) deadline() (time.Time, bool) {
	var at time.Time
	earliest := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if len(st.out) > 0 {
		earliest(st.out[0].at)
	}
	if !st.headSince.IsZero() {
		earliest(st.headSince.Add(pairWait))
	}
	if st.waitPair {
		_, giveUpAt := st.conn.state()
		earliest(giveUpAt)
	}
	return at, !at.IsZero()
}

// tick gives up on what waited too long: a head that never completes (not HTTP after
// all), a downstream half that never pairs (fail by closing the connection).
func (st *httpUp) tick(now time.Time) {
	if !st.headSince.IsZero() && !now.Before(st.headSince.Add(pairWait)) {
		st.goOpaque()
	}
	if st.waitPair {
		paired, giveUpAt := st.conn.state()
		switch {
		case paired:
			st.waitPair = false
		case !now.Before(giveUpAt):
			st.waitPair = false
			if st.conn.abandon() {
				st.discard, st.kill = true, true
			}
		}
	}
}

// release lets a partial head go as it is: the stream ends or stalls.
func (st *httpUp) release(at time.Time) {
	if held := st.f.held(); len(held) > 0 && !st.discard {
		st.out = append(st.out, due{c: chunk(held, time.Now()), at: at})
	}
	st.f.buf, st.headSince = nil, time.Time{}
}

// goOpaque stops parsing: what is held goes, everything after passes untouched.
func (st *httpUp) goOpaque() {
	st.release(time.Time{})
	st.opaque = true
	st.conn.setOpaque()
}

// emit queues bytes of the request in progress according to its disposition.
func (st *httpUp) emit(b []byte, ts time.Time) {
	switch st.cur {
	case pass:
		st.out = append(st.out, due{c: chunk(b, ts)})
	case hold:
		// Stamped with its release, so that a latency toxic after this one adds to
		// the hold instead of overlapping it.
		if ts.Before(st.curAt) {
			ts = st.curAt
		}
		st.out = append(st.out, due{c: chunk(b, ts), at: st.curAt})
	}
}

// feed runs one chunk from the client through the parser and the rule.
func (st *httpUp) feed(t *HTTP, c *stream.StreamChunk) {
	data := c.Data
	for len(data) > 0 {
		switch {
		case st.discard:
			return
		case st.opaque:
			st.out = append(st.out, due{c: chunk(data, c.Timestamp)})
			return
		}
		n, ev := st.f.next(data)
		switch ev {
		case evMore:
			if st.headSince.IsZero() {
				st.headSince = time.Now()
			}
		case evBad:
			st.goOpaque()
			continue
		case evHead:
			st.headSince = time.Time{}
			st.onHead(t, c.Timestamp)
		case evBody:
			st.emit(data[:n], c.Timestamp)
		case evEnd:
			st.emit(data[:n], c.Timestamp)
			st.onEnd()
		}
		data = data[n:]
	}
}

// onHead decides what happens to a request whose head is complete.
func (st *httpUp) onHead(t *HTTP, ts time.Time) {
	h := st.f.head
	raw := st.f.takeHead()
	kind, length, err := requestBody(&h)
	if err != nil || st.conn.isOpaque() {
		st.cur = pass
		st.emit(raw, ts)
		st.goOpaque()
		return
	}
	v := t.decide(&h)
	ex := exchange{method: h.method, tunnel: h.method == "CONNECT" || h.upgrade}
	st.cur, st.curAt, st.curClose, st.curTunnel = pass, time.Time{}, false, false
	switch v.action {
	case ActionFail:
		st.cur = drop
		st.curClose = h.wantsClose() || h.expectContinue
		ex.close, ex.tunnel = st.curClose, false
		ex.synthetic = synthetic(v.status, h.method == "HEAD", st.curClose)
		// Answer once the request is read whole, except when the client waits for a
		// 100 Continue before it sends the body.
		ex.ready = h.expectContinue
	case ActionDelay:
		st.cur, st.curAt = hold, ts.Add(v.delay)
	}
	st.curTunnel = ex.tunnel
	if !st.conn.push(ex) && ex.synthetic != nil {
		// No downstream half will answer (none paired, or the stream went out of
		// step): a connection that closes is the failure left to give.
		st.discard, st.kill = true, true
		return
	}
	if paired, _ := st.conn.state(); ex.synthetic != nil && !paired {
		st.waitPair = true
	}
	st.emit(raw, ts)
	if st.f.body(kind, length) {
		st.onEnd()
	}
}

// onEnd closes the request in progress.
func (st *httpUp) onEnd() {
	switch {
	case st.cur == drop:
		st.conn.ready()
		st.discard = st.curClose // the answer closes the connection: nothing after counts
	case st.curTunnel:
		st.goOpaque() // whatever the server says, the parser's work is done
	}
	st.cur, st.curAt, st.curClose, st.curTunnel = pass, time.Time{}, false, false
}

// synthetic builds the answer to a failed request.
func synthetic(status int, headOnly, closeConn bool) []byte {
	text := http.StatusText(status)
	if text == "" {
		text = "Faultline Fault"
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + text + "\r\n")
	b.WriteString("Content-Type: application/json\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(FaultBody)) + "\r\n")
	b.WriteString(FaultHeader + ": " + FaultHeaderValue + "\r\n")
	if closeConn {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	if !headOnly {
		b.WriteString(FaultBody)
	}
	return b.Bytes()
}

// chunk wraps bytes for the next toxic.
func chunk(b []byte, ts time.Time) *stream.StreamChunk {
	return &stream.StreamChunk{Data: b, Timestamp: ts}
}

// drain reads a closed stub's input to its end, so the toxics before it do not block.
func drain(stub *tox.ToxicStub) {
	for range stub.Input {
	}
}

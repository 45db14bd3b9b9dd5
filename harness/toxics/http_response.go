package toxics

import (
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	tox "github.com/Shopify/toxiproxy/v2/toxics"
)

// TypeHTTPResponse is the toxic type of HTTPResponse, for the downstream stream.
const TypeHTTPResponse = "http_response"

// HTTPResponse is the downstream half of the http toxic: on each connection it reads
// the server's responses and writes the http toxic's synthetic answers in their turn,
// between whole responses, in request order. It changes nothing by itself: without a
// paired http toxic (same Pair) every byte passes untouched.
//
// Toxiproxy v2.12.0 has no toxic that sees both directions of a connection, so the
// http toxic comes as two: put this one on the downstream stream and the http toxic on
// the upstream stream, with the same Pair, before the proxy takes traffic (netfault
// does it when it creates a proxy), and leave them there; switch the rule on and off by
// updating the http toxic's attributes.
type HTTPResponse struct {
	// Pair is the key shared with the http toxic; unique per proxy and server.
	Pair string `json:"pair"`
}

var (
	_ tox.Toxic         = (*HTTPResponse)(nil)
	_ tox.StatefulToxic = (*HTTPResponse)(nil)
	_ tox.CleanupToxic  = (*HTTPResponse)(nil)
)

// httpDown is the downstream half's state for one connection.
type httpDown struct {
	conn       *httpConn // nil: nobody queues answers
	f          framer
	out        []*stream.StreamChunk
	pass       bool // pass everything from now on
	attached   bool // told conn that this half runs
	closeAfter bool // close the client connection once out is written
	eof        bool // the server stopped sending
}

// NewState claims the state its upstream half offered for the same connection.
func (t *HTTPResponse) NewState() interface{} {
	d := &httpDown{f: framer{response: true}}
	if t.Pair != "" {
		d.conn = claimOffer(t.Pair)
	}
	d.pass = d.conn == nil
	return d
}

// Pipe runs the downstream half of one connection until its input ends or toxiproxy
// interrupts it.
func (t *HTTPResponse) Pipe(stub *tox.ToxicStub) {
	st, ok := stub.State.(*httpDown)
	if !ok {
		new(tox.NoopToxic).Pipe(stub)
		return
	}
	if !st.attached && st.conn != nil {
		st.attached = true
		if !st.conn.attach() {
			st.pass = true
		}
	}
	for {
		if !st.pass && !st.closeAfter && st.f.idle() {
			st.answer()
		}
		if !st.flush(stub) {
			return
		}
		if len(st.out) == 0 && (st.closeAfter || st.eof) {
			stub.Close()
			if st.closeAfter {
				drain(stub)
			}
			return
		}
		var notify <-chan struct{}
		if !st.pass {
			notify = st.conn.notify
		}
		in := stub.Input
		if st.eof || st.closeAfter {
			in = nil
		}
		select {
		case <-stub.Interrupt:
			return
		case c := <-in:
			if c == nil {
				st.atEOF()
				continue
			}
			st.feed(c)
		case <-notify:
		}
	}
}

// Cleanup writes out what is pending when the toxic is removed, synthetic answers
// included, and leaves the connection to pass untouched.
func (t *HTTPResponse) Cleanup(stub *tox.ToxicStub) {
	st, ok := stub.State.(*httpDown)
	if !ok {
		return
	}
	if !st.pass {
		st.desync()
	}
	for _, c := range st.out {
		_ = stub.WriteOutput(c, 5*time.Second)
	}
	st.out = nil
}

// flush writes what is pending; false when interrupted.
func (st *httpDown) flush(stub *tox.ToxicStub) bool {
	for len(st.out) > 0 {
		select {
		case stub.Output <- st.out[0]:
			st.out[0] = nil
			st.out = st.out[1:]
		case <-stub.Interrupt:
			return false
		}
	}
	return true
}

// answer queues the synthetic answers whose turn it is.
func (st *httpDown) answer() {
	answers, drained := st.conn.takeSynthetic()
	for _, ex := range answers {
		st.out = append(st.out, chunk(ex.synthetic, time.Now()))
		st.closeAfter = st.closeAfter || ex.close
	}
	if drained {
		st.pass = true
	}
}

// desync gives up on framing: what is held and every queued answer go now, and
// everything after passes untouched.
func (st *httpDown) desync() {
	if held := st.f.held(); len(held) > 0 {
		st.out = append(st.out, chunk(held, time.Now()))
	}
	st.f.buf = nil
	st.pass = true
	if st.conn != nil {
		for _, ex := range st.conn.takeAll() {
			st.out = append(st.out, chunk(ex.synthetic, time.Now()))
		}
	}
}

// atEOF ends a response delimited by the connection's close, and lets the answers
// queued behind it go before the close.
func (st *httpDown) atEOF() {
	st.eof = true
	if st.pass {
		return
	}
	if st.f.phase == phaseUntilClose {
		st.f.reset()
		st.conn.pop()
	}
	if len(st.f.held()) > 0 {
		st.desync()
	}
}

// feed runs one chunk from the server through the parser, between answers.
func (st *httpDown) feed(c *stream.StreamChunk) {
	data := c.Data
	for len(data) > 0 {
		switch {
		case st.closeAfter:
			return // the client connection closes after a synthetic answer
		case st.pass:
			st.out = append(st.out, chunk(data, c.Timestamp))
			return
		}
		n, ev := st.f.next(data)
		switch ev {
		case evBad:
			st.desync()
			continue
		case evHead:
			st.onHead(c.Timestamp)
		case evBody:
			st.out = append(st.out, chunk(data[:n], c.Timestamp))
		case evEnd:
			st.out = append(st.out, chunk(data[:n], c.Timestamp))
			st.conn.pop()
		}
		data = data[n:]
	}
}

// onHead places a complete response head: after the synthetic answers due before it,
// as the answer to the oldest request still waiting for the server.
func (st *httpDown) onHead(ts time.Time) {
	h := st.f.head
	raw := st.f.takeHead()
	if h.status >= 200 {
		st.answer()
	}
	ex, ok := st.conn.front()
	if !ok || ex.synthetic != nil || st.closeAfter {
		// A response nobody asked for: not the HTTP this half understands.
		st.f.buf = raw
		st.desync()
		return
	}
	st.out = append(st.out, chunk(raw, ts))
	switch {
	case h.status == 101 || (ex.method == "CONNECT" && h.status/100 == 2):
		st.f.reset()
		st.conn.pop()
		st.conn.setOpaque()
		st.pass = true
	case h.status < 200: // informational: the final response follows
		st.f.body(bodyNone, 0)
	default:
		if kind, length := responseBody(&h, ex.method); st.f.body(kind, length) {
			st.conn.pop()
		}
	}
}

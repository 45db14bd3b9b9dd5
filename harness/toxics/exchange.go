package toxics

import (
	"sync"
	"time"
)

// How long a connection's upstream half waits for its downstream half before it gives
// up on synthetic answers (and fails a request by closing the connection instead):
// pairWait for a downstream half to claim the connection (it does so as the
// connection is accepted), attachWait for one that claimed it to run (toxiproxy runs a
// no-op instead when a toxicity below 1 says so).
const (
	pairWait   = 2 * time.Second
	attachWait = 10 * time.Second
)

// maxUnpaired is how many requests a connection records before its downstream half
// claims it; past that the connection is taken as unpaired for good.
const maxUnpaired = 256

// exchange is one request seen by the upstream half, waiting for its answer downstream.
type exchange struct {
	method    string // HEAD answers carry no body
	synthetic []byte // the answer to write instead of the server's; nil: the server answers
	ready     bool   // the failed request was read whole: its answer may go
	close     bool   // close the client connection after this (synthetic) answer
	tunnel    bool   // CONNECT or Upgrade: a 101/2xx answer turns the stream opaque
}

// httpConn is what the two halves of one client connection share: the requests the
// upstream half has let through or answered, in order, so that the downstream half
// writes each answer in its turn.
type httpConn struct {
	mu        sync.Mutex
	queue     []exchange
	claimed   bool // a downstream half took the connection's state
	paired    bool // and runs: it reads the queue
	abandoned bool // no downstream half will: the upstream half must not count on one
	opaque    bool // a half stopped parsing: no more exchanges, pass everything
	created   time.Time
	notify    chan struct{} // capacity 1: the queue or opaque changed
}

func newHTTPConn() *httpConn {
	return &httpConn{created: time.Now(), notify: make(chan struct{}, 1)}
}

func (c *httpConn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// push records the next request's exchange. It reports false when the connection
// cannot take it (opaque, or unpaired for too long).
func (c *httpConn) push(ex exchange) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opaque || c.abandoned {
		return false
	}
	if !c.paired && len(c.queue) >= maxUnpaired {
		c.abandoned = true
		return false
	}
	c.queue = append(c.queue, ex)
	c.wake()
	return true
}

// ready marks the newest exchange's answer free to go: its request has been read
// whole, as a server would before it answers, so the client finishes writing and
// keeps its connection.
func (c *httpConn) ready() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.queue); n > 0 {
		c.queue[n-1].ready = true
		c.wake()
	}
}

// state reports whether a downstream half runs for the connection, and when the
// upstream half should stop waiting for one.
func (c *httpConn) state() (paired bool, giveUpAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimed {
		return c.paired, c.created.Add(attachWait)
	}
	return c.paired, c.created.Add(pairWait)
}

// abandon gives up on a downstream half unless one has claimed the connection; it
// reports whether the connection is now abandoned.
func (c *httpConn) abandon() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paired {
		c.abandoned = true
	}
	return c.abandoned
}

// claim reserves the connection for a downstream half; false if it was abandoned
// already or claimed by another.
func (c *httpConn) claim() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned || c.claimed {
		return false
	}
	c.claimed = true
	return true
}

// attach says the claiming downstream half runs (toxiproxy may run a no-op in its place
// when a toxicity below 1 says so); false if the connection was abandoned meanwhile.
func (c *httpConn) attach() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned {
		return false
	}
	c.paired = true
	c.wake()
	return true
}

// setOpaque stops HTTP handling on the connection: what is queued is still answered,
// nothing new is.
func (c *httpConn) setOpaque() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opaque = true
	c.wake()
}

func (c *httpConn) isOpaque() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opaque
}

// front returns the oldest unanswered exchange.
func (c *httpConn) front() (exchange, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return exchange{}, false
	}
	return c.queue[0], true
}

// pop drops the oldest exchange, answered.
func (c *httpConn) pop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 {
		c.queue[0] = exchange{}
		c.queue = c.queue[1:]
	}
}

// takeSynthetic removes and returns the synthetic answers at the front of the queue,
// up to and including one that closes the connection. drained reports that the queue
// is empty and the connection opaque: nothing will ever be queued again.
func (c *httpConn) takeSynthetic() (answers []exchange, drained bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 && c.queue[0].synthetic != nil && c.queue[0].ready {
		ex := c.queue[0]
		c.queue[0] = exchange{}
		c.queue = c.queue[1:]
		answers = append(answers, ex)
		if ex.close {
			break
		}
	}
	return answers, c.opaque && len(c.queue) == 0
}

// takeAll removes every queued synthetic answer, whatever precedes it: the best a
// half can do once the stream is out of step.
func (c *httpConn) takeAll() []exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	var answers []exchange
	for _, ex := range c.queue {
		if ex.synthetic != nil {
			answers = append(answers, ex)
		}
	}
	c.queue = nil
	c.opaque = true
	return answers
}

// pairing hands a connection's shared state from its upstream half to its downstream
// half. Toxiproxy builds toxics by reflection and gives the two directions of a
// connection nothing in common, but its accept loop creates the state of a new
// connection's upstream toxics and then of its downstream toxics, on one goroutine: so
// the latest offer under a pair key belongs to the connection whose downstream half
// asks next. This table is the package's one piece of shared state, and it is why both
// halves must be on a proxy before it takes traffic.
var pairing = struct {
	sync.Mutex
	offers map[string]*httpConn
}{offers: map[string]*httpConn{}}

// offer publishes a new connection's state under pair, replacing an unclaimed one.
func offer(pair string, c *httpConn) {
	pairing.Lock()
	defer pairing.Unlock()
	pairing.offers[pair] = c
}

// claimOffer takes the state offered under pair, or nil.
func claimOffer(pair string) *httpConn {
	pairing.Lock()
	c := pairing.offers[pair]
	delete(pairing.offers, pair)
	pairing.Unlock()
	if c == nil || !c.claim() {
		return nil
	}
	return c
}

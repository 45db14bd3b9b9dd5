package netfault

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Outcome is what a probe through a link saw.
type Outcome string

// The outcomes of a probe.
const (
	// Answered: bytes came back (Status says which HTTP status, 0 if not HTTP).
	Answered Outcome = "answered"
	// Refused: the connection was refused (a disabled proxy).
	Refused Outcome = "refused"
	// TimedOut: the connection was taken but nothing came back in time (a black hole,
	// a frozen upstream): callers hang rather than fail.
	TimedOut Outcome = "timed out"
	// Closed: the connection was taken, then closed or reset before any answer (an
	// upstream that is down, reset_peer, limit_data, a timeout toxic that closes).
	Closed Outcome = "closed"
	// Failed: the probe could not be made (no address, the context ended).
	Failed Outcome = "failed"
)

// ProbeResult is what one probe through a link saw.
type ProbeResult struct {
	// Outcome is the kind of result.
	Outcome Outcome
	// Status is the HTTP status of an answer; 0 otherwise.
	Status int
	// Elapsed runs from the dial to the outcome (to the answer's status line).
	Elapsed time.Duration
	// Err is the error behind any outcome but Answered with a status.
	Err error
}

// String reads "answered 200 after 12ms", "refused after 0s", ...
func (r ProbeResult) String() string {
	s := string(r.Outcome)
	if r.Outcome == Answered && r.Status != 0 {
		s += fmt.Sprintf(" %d", r.Status)
	}
	s += " after " + r.Elapsed.Round(time.Millisecond).String()
	if r.Err != nil && r.Outcome != Refused && r.Outcome != TimedOut {
		s += ": " + r.Err.Error()
	}
	return s
}

// Probe opens a TCP connection to the link where the harness reaches it and sends a
// small HTTP GET (the manager's probe path, "/healthz" by default), then says whether it
// was refused, hung past timeout, closed, or answered, and when. Faults use it to prove
// that they took effect, and that they healed. It never returns an error: the Outcome
// Failed carries one.
func (l *Link) Probe(ctx context.Context, timeout time.Duration) ProbeResult {
	start := time.Now()
	result := func(o Outcome, status int, err error) ProbeResult {
		return ProbeResult{Outcome: o, Status: status, Elapsed: time.Since(start), Err: err}
	}
	addr, err := l.HostAddr(ctx)
	if err != nil {
		return result(Failed, 0, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(pctx, "tcp", addr)
	if err != nil {
		return result(classify(ctx, err, false), 0, fmt.Errorf("probe %s (%s): %w", l.name, addr, err))
	}
	defer conn.Close()
	stop := context.AfterFunc(pctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	// No "Connection: close": a server that closes after answering ends a
	// downstream-cut connection early, where a keep-alive client would hang.
	req := "GET " + l.m.probePath + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: faultline-probe\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return result(classify(ctx, err, false), 0, fmt.Errorf("probe %s (%s): send: %w", l.name, addr, err))
	}
	cr := &countingReader{r: conn}
	resp, err := http.ReadResponse(bufio.NewReader(cr), nil)
	if err != nil {
		return result(classify(ctx, err, cr.n > 0), 0, fmt.Errorf("probe %s (%s): read: %w", l.name, addr, err))
	}
	r := result(Answered, resp.StatusCode, nil)
	_ = resp.Body.Close()
	return r
}

// classify names what a dial, write or read error means; answered says bytes came.
func classify(parent context.Context, err error, answered bool) Outcome {
	var ne net.Error
	switch {
	case parent.Err() != nil:
		return Failed
	case answered:
		return Answered
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return TimedOut
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return Closed
	}
	return Failed
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

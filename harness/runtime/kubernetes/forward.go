package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// forwarder is a listener on loopback whose every connection is forwarded to one port of
// the pod behind a name at that moment, through the API server's port-forward (as
// kubectl port-forward does, one SPDY connection per pod, one stream pair per
// connection). It outlives the pod's replacements, so its address stays put. When no pod
// is there (or, with onlyStarted, none has passed its startup probe), a connection is
// closed at once, as a dead instance's would be refused.
type forwarder struct {
	rt          *Runtime
	pod         string
	port        int
	onlyStarted bool
	ln          net.Listener
	reqID       atomic.Int64

	mu     sync.Mutex
	conn   httpstream.Connection // to uid
	uid    types.UID
	closed bool
	live   map[net.Conn]struct{}
}

// forward starts a forwarder to port of the pod called pod and keeps it for Close.
func (r *Runtime) forward(pod string, port int, onlyStarted bool) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback for port-forward to %s:%d: %w", pod, port, err)
	}
	f := &forwarder{rt: r, pod: pod, port: port, onlyStarted: onlyStarted, ln: ln, live: map[net.Conn]struct{}{}}
	if !r.addForward(f) {
		ln.Close()
		return nil, fmt.Errorf("port-forward to %s:%d: the runtime is closed", pod, port)
	}
	go f.serve()
	return f, nil
}

// Addr is the loopback address to connect to.
func (f *forwarder) Addr() string { return f.ln.Addr().String() }

// Close stops listening and ends every forwarded connection.
func (f *forwarder) Close() {
	f.mu.Lock()
	f.closed = true
	conn := f.conn
	f.conn = nil
	for c := range f.live {
		c.Close()
	}
	f.mu.Unlock()
	f.ln.Close()
	if conn != nil {
		conn.Close()
	}
}

func (f *forwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

// track adds c to the live connections (false once closed) or, with add false, drops it.
func (f *forwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !add {
		delete(f.live, c)
		return true
	}
	if f.closed {
		return false
	}
	f.live[c] = struct{}{}
	return true
}

// target reads the pod and says whether a connection may go to it.
func (f *forwarder) target(ctx context.Context) (*corev1.Pod, error) {
	pod, err := f.rt.cache.pod(f.pod)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", f.pod, err)
	}
	if pod == nil {
		return nil, fmt.Errorf("no pod %s", f.pod)
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return nil, fmt.Errorf("pod %s is %s", f.pod, pod.Status.Phase)
	}
	if f.onlyStarted && !started(pod) {
		return nil, fmt.Errorf("pod %s has not passed its startup probe", f.pod)
	}
	return pod, nil
}

// streamConn returns the SPDY connection to pod, dialling a new one when the pod was
// replaced or the last connection ended.
func (f *forwarder) streamConn(pod *corev1.Pod) (httpstream.Connection, error) {
	f.mu.Lock()
	if f.conn != nil && f.uid == pod.UID {
		select {
		case <-f.conn.CloseChan():
		default:
			c := f.conn
			f.mu.Unlock()
			return c, nil
		}
	}
	old := f.conn
	f.conn = nil
	f.mu.Unlock()
	if old != nil {
		old.Close()
	}
	transport, upgrader, err := spdy.RoundTripperFor(f.rt.cfg)
	if err != nil {
		return nil, err
	}
	url := f.rt.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.rt.namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	conn, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod.Name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		conn.Close()
		return nil, errors.New("forwarder closed")
	}
	if f.conn != nil { // another connection dialled meanwhile: keep one
		conn.Close()
		return f.conn, nil
	}
	f.conn, f.uid = conn, pod.UID
	return conn, nil
}

// dropConn forgets conn after it failed, so that the next connection dials anew.
func (f *forwarder) dropConn(conn httpstream.Connection) {
	f.mu.Lock()
	if f.conn == conn {
		f.conn = nil
	}
	f.mu.Unlock()
	conn.Close()
}

// handle forwards one local connection.
func (f *forwarder) handle(c net.Conn) {
	defer c.Close()
	if !f.track(c, true) {
		return
	}
	defer f.track(c, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	pod, err := f.target(ctx)
	cancel()
	if err != nil {
		return
	}
	conn, err := f.streamConn(pod)
	if err != nil {
		f.rt.log.Debug("port-forward", "pod", f.pod, "port", f.port, "err", err)
		return
	}
	if err := f.pipe(conn, c); err != nil {
		f.rt.log.Debug("port-forward", "pod", f.pod, "port", f.port, "err", err)
	}
}

// streamTimeout bounds the creation of one stream: a port-forward connection that does
// not answer within it is stalled (client-go's own bound is 30 s), and is dropped so
// that the next connection dials a new one.
const streamTimeout = 3 * time.Second

// createStream creates a stream on conn within streamTimeout, dropping conn when it
// cannot.
func (f *forwarder) createStream(conn httpstream.Connection, headers http.Header) (httpstream.Stream, error) {
	type result struct {
		s   httpstream.Stream
		err error
	}
	got := make(chan result, 1)
	go func() {
		s, err := conn.CreateStream(headers)
		got <- result{s, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			f.dropConn(conn)
		}
		return r.s, r.err
	case <-time.After(streamTimeout):
		f.dropConn(conn)
		return nil, fmt.Errorf("port-forward to %s:%d stalled: no stream within %s; dialling anew", f.pod, f.port, streamTimeout)
	}
}

// pipe copies between c and a new stream pair on conn, as client-go's PortForwarder does.
func (f *forwarder) pipe(conn httpstream.Connection, c net.Conn) error {
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(f.port))
	headers.Set(corev1.PortForwardRequestIDHeader, strconv.FormatInt(f.reqID.Add(1), 10))
	errStream, err := f.createStream(conn, headers)
	if err != nil {
		return fmt.Errorf("create error stream: %w", err)
	}
	errStream.Close() // nothing is written to it
	defer conn.RemoveStreams(errStream)
	remoteErr := make(chan error, 1)
	go func() {
		msg, err := io.ReadAll(errStream)
		switch {
		case err != nil:
			remoteErr <- fmt.Errorf("read error stream: %w", err)
		case len(msg) > 0:
			remoteErr <- fmt.Errorf("forward to port %d: %s", f.port, msg)
		default:
			remoteErr <- nil
		}
	}()
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := f.createStream(conn, headers)
	if err != nil {
		return fmt.Errorf("create data stream: %w", err)
	}
	defer conn.RemoveStreams(data)
	remoteDone := make(chan struct{})
	localDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, data)
		close(remoteDone)
	}()
	go func() {
		defer data.Close()
		_, _ = io.Copy(data, c)
		close(localDone)
	}()
	select {
	case <-remoteDone:
	case <-localDone:
		// The local side is done sending; wait for the answer to end.
		<-remoteDone
	}
	_ = data.Reset()
	select {
	case err := <-remoteErr:
		return err
	case <-time.After(time.Second):
		return nil
	}
}

// dialCheck connects through the forwarder and sees whether the pod's port accepts: the
// port-forward reports a refused port on its error stream and closes the data stream,
// which a plain dial to the local listener cannot see.
func (f *forwarder) dialCheck(ctx context.Context) error {
	pod, err := f.target(ctx)
	if err != nil {
		return err
	}
	conn, err := f.streamConn(pod)
	if err != nil {
		return err
	}
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(f.port))
	headers.Set(corev1.PortForwardRequestIDHeader, strconv.FormatInt(f.reqID.Add(1), 10))
	errStream, err := f.createStream(conn, headers)
	if err != nil {
		return err
	}
	errStream.Close()
	defer conn.RemoveStreams(errStream)
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := f.createStream(conn, headers)
	if err != nil {
		return err
	}
	defer conn.RemoveStreams(data)
	_ = data.Close() // nothing to send: the server ends the stream once the port's connection closes
	// Whatever the port says (a greeting) is read and dropped: a stream nobody reads
	// fills its buffer and holds up every other stream of the connection.
	go func() { _, _ = io.Copy(io.Discard, data) }()
	got := make(chan error, 1)
	go func() {
		msg, err := io.ReadAll(errStream)
		if err == nil && len(msg) > 0 {
			err = fmt.Errorf("port %d of pod %s: %s", f.port, f.pod, msg)
		}
		got <- err
	}()
	select {
	case err := <-got:
		_ = data.Reset()
		return err
	case <-ctx.Done():
		_ = data.Reset()
		return ctx.Err()
	}
}

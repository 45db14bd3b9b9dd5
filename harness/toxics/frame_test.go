package toxics

import (
	"strings"
	"testing"
)

// split runs a stream through a framer in pieces of size n and returns the messages it
// delimited, each as the bytes it emitted for it. methods give each response's request.
func split(t *testing.T, s string, n int, response bool, methods []string) []string {
	t.Helper()
	f := framer{response: response}
	var msgs []string
	var cur strings.Builder
	data := []byte(s)
	for len(data) > 0 {
		piece := data[:min(n, len(data))]
		data = data[len(piece):]
		for len(piece) > 0 {
			k, ev := f.next(piece)
			switch ev {
			case evMore:
			case evBad:
				t.Fatalf("piece size %d: not HTTP after %d messages at %q", n, len(msgs), piece)
			case evHead:
				h := f.head
				cur.Write(f.takeHead())
				var kind bodyKind
				var length int64
				if response {
					kind, length = responseBody(&h, methods[len(msgs)])
				} else {
					var err error
					if kind, length, err = requestBody(&h); err != nil {
						t.Fatalf("request body: %v", err)
					}
				}
				if f.body(kind, length) {
					msgs = append(msgs, cur.String())
					cur.Reset()
				}
			case evBody:
				cur.WriteString(string(piece[:k]))
			case evEnd:
				cur.WriteString(string(piece[:k]))
				msgs = append(msgs, cur.String())
				cur.Reset()
			}
			piece = piece[k:]
		}
	}
	if cur.Len() > 0 || !f.idle() {
		t.Fatalf("piece size %d: stream ended inside a message: %q", n, cur.String())
	}
	return msgs
}

func TestFramerRequests(t *testing.T) {
	msgs := []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
		"PUT /d HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"DELETE /e?x=1 HTTP/1.0\n\n",
		"GET /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	}
	stream := strings.Join(msgs, "")
	for n := 1; n <= len(stream); n++ {
		got := split(t, stream, n, false, nil)
		if strings.Join(got, "|") != strings.Join(msgs, "|") {
			t.Fatalf("piece size %d:\n got %q\nwant %q", n, got, msgs)
		}
	}
}

func TestFramerResponses(t *testing.T) {
	msgs := []string{
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n",          // answer to HEAD: no body
		"HTTP/1.1 204 No Content\r\n\r\n",                        // never a body
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", // never a body
		"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil the connection closes",
	}
	methods := []string{"GET", "GET", "HEAD", "GET", "GET", "GET", "GET"}
	stream := strings.Join(msgs, "")
	for n := 1; n <= len(stream); n++ {
		f := framer{response: true}
		// The last response runs to EOF: feed everything, then check what was delimited.
		got := splitUntilClose(t, &f, stream, n, methods)
		if strings.Join(got, "|") != strings.Join(msgs, "|") {
			t.Fatalf("piece size %d:\n got %q\nwant %q", n, got, msgs)
		}
	}
}

// splitUntilClose is split for a response stream whose last message ends at EOF.
func splitUntilClose(t *testing.T, f *framer, s string, n int, methods []string) []string {
	t.Helper()
	var msgs []string
	var cur strings.Builder
	data := []byte(s)
	for len(data) > 0 {
		piece := data[:min(n, len(data))]
		data = data[len(piece):]
		for len(piece) > 0 {
			k, ev := f.next(piece)
			switch ev {
			case evBad:
				t.Fatalf("piece size %d: not HTTP after %d messages", n, len(msgs))
			case evHead:
				h := f.head
				cur.Write(f.takeHead())
				kind, length := responseBody(&h, methods[len(msgs)])
				if f.body(kind, length) {
					msgs = append(msgs, cur.String())
					cur.Reset()
				}
			case evBody:
				cur.WriteString(string(piece[:k]))
			case evEnd:
				cur.WriteString(string(piece[:k]))
				msgs = append(msgs, cur.String())
				cur.Reset()
			}
			piece = piece[k:]
		}
	}
	if f.phase != phaseUntilClose {
		t.Fatalf("piece size %d: last response not read until close (phase %d)", n, f.phase)
	}
	return append(msgs, cur.String())
}

func TestFramerNotHTTP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		response bool
		in       string
	}{
		{"binary", false, "\x00\x01\x02\x03"},
		{"text line", false, "hello world\n"},
		{"ssh banner", false, "SSH-2.0-OpenSSH_9.0\r\n"},
		{"http2 preface", false, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{"http2 request line", false, "GET / HTTP/2\r\n"},
		{"space first", false, " GET / HTTP/1.1\r\n"},
		{"bad header", false, "GET / HTTP/1.1\r\nno colon here\r\n\r\n"},
		{"folded header", false, "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"},
		{"two lengths", false, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
		{"greeting", true, "220 smtp.example ESMTP\r\n"},
		{"bad status", true, "HTTP/1.1 2x0 OK\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := framer{response: tc.response}
			n, ev := f.next([]byte(tc.in))
			if ev != evBad || n != 0 {
				t.Fatalf("next(%q) = %d, %v; want 0, evBad", tc.in, n, ev)
			}
			if len(f.held()) != 0 {
				t.Fatalf("held %q after the first chunk was refused", f.held())
			}
		})
	}
}

func TestFramerTransferEncodingWithoutChunked(t *testing.T) {
	f := framer{}
	_, ev := f.next([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"))
	if ev != evHead {
		t.Fatalf("event %v, want evHead", ev)
	}
	if _, _, err := requestBody(&f.head); err == nil {
		t.Fatal("a request whose codings do not end in chunked was framed")
	}
}

func TestHeadPathAndHeaders(t *testing.T) {
	h, err := parseHead([]byte("GET http://svc:80/api/x?y=1 HTTP/1.1\r\nX-Tenant:  blue \r\n\r\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.path(); got != "/api/x" {
		t.Errorf("path %q, want /api/x", got)
	}
	if !h.header("x-tenant", "blue") || !h.header("X-Tenant", "") || h.header("X-Tenant", "red") {
		t.Errorf("header matching wrong on %+v", h.fields)
	}
}

func TestRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		rule HTTPRule
		want string // in the error; empty: valid
	}{
		{HTTPRule{}, ""},
		{HTTPRule{Action: ActionFail, Fraction: 0.5, Seed: 7, PathPrefix: "/api", Method: "GET,POST", Header: "X-A: b"}, ""},
		{HTTPRule{Action: ActionDelay, DelayMs: 100}, ""},
		{HTTPRule{Action: "explode"}, "action"},
		{HTTPRule{Action: ActionFail, Fraction: 1.5}, "fraction"},
		{HTTPRule{Action: ActionFail, Fraction: -0.1}, "fraction"},
		{HTTPRule{Action: ActionFail, FirstN: -1}, "first_n"},
		{HTTPRule{Action: ActionFail, FirstN: 3, Fraction: 0.5}, "both set"},
		{HTTPRule{Action: ActionFail, Status: 42}, "status"},
		{HTTPRule{Action: ActionDelay}, "delay_ms"},
		{HTTPRule{Action: ActionDelay, DelayMs: -5}, "delay_ms"},
		{HTTPRule{Action: ActionFail, DelayMs: 5}, "delay_ms"},
		{HTTPRule{PathPrefix: "api"}, "path_prefix"},
		{HTTPRule{Header: ": x"}, "header"},
		{HTTPRule{Method: "GET POST"}, "method"},
	} {
		err := tc.rule.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tc.rule, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one naming %q", tc.rule, err, tc.want)
		}
	}
}

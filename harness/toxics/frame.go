package toxics

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// Limits past which a byte stream is not treated as HTTP/1.x any more.
const (
	maxHead = 64 << 10 // bytes of a request or response head
	maxLine = 4 << 10  // bytes of a chunk-size or trailer line
)

// errNotHTTP says a head or a body's framing is not HTTP/1.x as this parser knows it.
var errNotHTTP = errors.New("not HTTP/1.x")

// bodyKind is how a message's body is delimited.
type bodyKind uint8

const (
	bodyNone       bodyKind = iota // no body
	bodyLength                     // Content-Length bytes
	bodyChunked                    // Transfer-Encoding: chunked
	bodyUntilClose                 // everything until the connection closes (responses only)
)

// phase is where a framer stands in the current message.
type phase uint8

const (
	phaseHead       phase = iota // collecting the head, up to the blank line
	phaseLength                  // counting Content-Length bytes
	phaseChunkSize               // reading a chunk-size line
	phaseChunkData               // counting a chunk's bytes
	phaseChunkEnd                // the CRLF after a chunk's bytes
	phaseTrailer                 // trailer lines up to the blank line
	phaseUntilClose              // everything, until EOF
)

// event is what framer.next found in the bytes it consumed.
type event uint8

const (
	evMore event = iota // bytes went into the head buffer; nothing to emit yet
	evHead              // a head is complete: takeHead returns its bytes, head its fields
	evBody              // body bytes (framing included), the message goes on
	evEnd               // the last bytes of the message (possibly none)
	evBad               // not HTTP: nothing consumed; held returns the bytes held back
)

// field is one header line.
type field struct{ name, value string }

// head is what the parser keeps of a request or response head.
type head struct {
	method, target string // requests
	status         int    // responses
	minor          int    // HTTP/1.minor
	contentLength  int64  // -1 when absent
	te             bool   // Transfer-Encoding present
	chunked        bool   // its last coding is chunked
	connClose      bool
	connKeepAlive  bool
	upgrade        bool // an Upgrade header
	expectContinue bool
	fields         []field
}

// wantsClose reports whether a request asks to close the connection after its response.
func (h *head) wantsClose() bool {
	return h.connClose || (h.minor == 0 && !h.connKeepAlive)
}

// path is the request target's path, without query.
func (h *head) path() string {
	t := h.target
	if i := strings.Index(t, "://"); i >= 0 { // absolute-form
		t = t[i+3:]
		if j := strings.IndexByte(t, '/'); j >= 0 {
			t = t[j:]
		} else {
			t = "/"
		}
	}
	if i := strings.IndexAny(t, "?#"); i >= 0 {
		t = t[:i]
	}
	return t
}

// header reports whether the head has a header name (case-insensitive) and, when value
// is not empty, one whose value is value (surrounding spaces ignored).
func (h *head) header(name, value string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) && (value == "" || f.value == value) {
			return true
		}
	}
	return false
}

// framer splits one direction of an HTTP/1.x byte stream into messages without copying
// bodies: heads are held back until complete (so a caller can decide what to do with
// the message before any of its bytes move on), bodies are counted as they pass.
type framer struct {
	response bool
	phase    phase
	buf      []byte // the head so far
	line     []byte // the chunk-size or trailer line so far
	left     int64  // bytes left of the body or the chunk
	head     head
}

// held is what the framer holds back and has not emitted: a partial head.
func (f *framer) held() []byte {
	if f.phase == phaseHead {
		return f.buf
	}
	return nil
}

// idle reports whether the framer stands between two messages.
func (f *framer) idle() bool { return f.phase == phaseHead && len(f.buf) == 0 }

// takeHead hands over the bytes of a complete head; the caller owns them.
func (f *framer) takeHead() []byte {
	b := f.buf
	f.buf = nil
	return b
}

// reset readies the framer for the next message.
func (f *framer) reset() {
	f.phase, f.buf, f.line, f.left, f.head = phaseHead, nil, f.line[:0], 0, head{}
}

// body sets how the current message's body is delimited, once its head is out. It
// reports whether the message is already complete.
func (f *framer) body(kind bodyKind, length int64) (done bool) {
	switch {
	case kind == bodyLength && length > 0:
		f.phase, f.left = phaseLength, length
	case kind == bodyChunked:
		f.phase = phaseChunkSize
	case kind == bodyUntilClose:
		f.phase = phaseUntilClose
	default:
		f.reset()
		return true
	}
	return false
}

// next consumes a prefix of data and says what it was. After evHead the caller must
// call takeHead and then body.
func (f *framer) next(data []byte) (int, event) {
	switch f.phase {
	case phaseHead:
		start := len(f.buf)
		f.buf = append(f.buf, data...)
		end := headEnd(f.buf, max(0, start-3))
		if end < 0 {
			if len(f.buf) > maxHead || !plausible(f.buf, f.response) {
				f.buf = f.buf[:start]
				return 0, evBad
			}
			return len(data), evMore
		}
		h, err := parseHead(f.buf[:end], f.response)
		if err != nil {
			f.buf = f.buf[:start]
			return 0, evBad
		}
		f.buf, f.head = f.buf[:end:end], h
		return end - start, evHead
	case phaseLength:
		n := min(int64(len(data)), f.left)
		if f.left -= n; f.left == 0 {
			f.reset()
			return int(n), evEnd
		}
		return int(n), evBody
	case phaseUntilClose:
		return len(data), evBody
	case phaseChunkData:
		n := min(int64(len(data)), f.left)
		if f.left -= n; f.left == 0 {
			f.phase = phaseChunkEnd
		}
		return int(n), evBody
	case phaseChunkEnd:
		i := bytes.IndexByte(data, '\n')
		rest := data
		if i >= 0 {
			rest = data[:i]
		}
		if len(bytes.Trim(rest, "\r")) != 0 {
			return 0, evBad
		}
		if i < 0 {
			return len(data), evBody
		}
		f.phase = phaseChunkSize
		return i + 1, evBody
	default: // phaseChunkSize, phaseTrailer: line by line
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if f.line = append(f.line, data...); len(f.line) > maxLine {
				return 0, evBad
			}
			return len(data), evBody
		}
		line := strings.TrimRight(string(append(f.line, data[:i]...)), "\r")
		f.line = f.line[:0]
		if f.phase == phaseTrailer {
			if line == "" {
				f.reset()
				return i + 1, evEnd
			}
			return i + 1, evBody
		}
		size, err := chunkSize(line)
		if err != nil {
			return 0, evBad
		}
		if size == 0 {
			f.phase = phaseTrailer
		} else {
			f.phase, f.left = phaseChunkData, size
		}
		return i + 1, evBody
	}
}

// headEnd returns the index just past the blank line that ends a head, or -1.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// plausible reports whether an incomplete head could still become a valid start line,
// so that a stream that is not HTTP is let through at its first bytes.
func plausible(b []byte, response bool) bool {
	if response {
		const p = "HTTP/1."
		n := min(len(b), len(p))
		return string(b[:n]) == p[:n]
	}
	for i, c := range b {
		switch {
		case c == ' ':
			if i == 0 {
				return false
			}
			return plausibleTarget(b[i+1:])
		case !isTokenChar(c) || i >= 32:
			return false
		}
	}
	return true
}

// plausibleTarget checks what follows the method: a target and " HTTP/1.x".
func plausibleTarget(b []byte) bool {
	for i, c := range b {
		if c == ' ' {
			const p = "HTTP/1."
			rest := b[i+1:]
			n := min(len(rest), len(p))
			return i > 0 && string(rest[:n]) == p[:n]
		}
		if c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// parseHead reads a complete head (start line, fields, blank line).
func parseHead(b []byte, response bool) (head, error) {
	h := head{contentLength: -1}
	lines := strings.Split(string(b), "\n")
	first := strings.TrimSuffix(lines[0], "\r")
	if response {
		if len(first) < 12 || !strings.HasPrefix(first, "HTTP/1.") || first[8] != ' ' ||
			(len(first) > 12 && first[12] != ' ') {
			return h, errNotHTTP
		}
		h.minor = int(first[7]) - '0'
		status, err := strconv.Atoi(first[9:12])
		if err != nil || status < 100 {
			return h, errNotHTTP
		}
		h.status = status
	} else {
		method, rest, ok1 := strings.Cut(first, " ")
		target, proto, ok2 := strings.Cut(rest, " ")
		if !ok1 || !ok2 || !isToken(method) || target == "" {
			return h, errNotHTTP
		}
		switch proto {
		case "HTTP/1.1":
			h.minor = 1
		case "HTTP/1.0":
			h.minor = 0
		default:
			return h, errNotHTTP
		}
		h.method, h.target = method, target
	}
	if h.minor != 0 && h.minor != 1 {
		return h, errNotHTTP
	}
	for _, l := range lines[1:] {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' { // obsolete line folding
			return h, errNotHTTP
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || !isToken(name) {
			return h, errNotHTTP
		}
		value = strings.TrimSpace(value)
		h.fields = append(h.fields, field{name, value})
		switch strings.ToLower(name) {
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || (h.contentLength >= 0 && n != h.contentLength) {
				return h, errNotHTTP
			}
			h.contentLength = n
		case "transfer-encoding":
			codings := strings.Split(value, ",")
			h.te = true
			h.chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
		case "connection":
			for _, tok := range strings.Split(value, ",") {
				switch strings.ToLower(strings.TrimSpace(tok)) {
				case "close":
					h.connClose = true
				case "keep-alive":
					h.connKeepAlive = true
				}
			}
		case "upgrade":
			h.upgrade = true
		case "expect":
			h.expectContinue = strings.EqualFold(value, "100-continue")
		}
	}
	return h, nil
}

// requestBody says how a request's body is delimited.
func requestBody(h *head) (bodyKind, int64, error) {
	switch {
	case h.te && h.chunked:
		return bodyChunked, 0, nil
	case h.te: // a request must end its codings with chunked
		return 0, 0, errNotHTTP
	case h.contentLength > 0:
		return bodyLength, h.contentLength, nil
	}
	return bodyNone, 0, nil
}

// responseBody says how a response to a request made with method is delimited.
func responseBody(h *head, method string) (bodyKind, int64) {
	switch {
	case h.status < 200, h.status == 204, h.status == 304, method == "HEAD":
		return bodyNone, 0
	case h.te && h.chunked:
		return bodyChunked, 0
	case h.te:
		return bodyUntilClose, 0
	case h.contentLength >= 0:
		return bodyLength, h.contentLength
	}
	return bodyUntilClose, 0
}

// chunkSize parses a chunk-size line ("1a;ext=1").
func chunkSize(line string) (int64, error) {
	s, _, _ := strings.Cut(line, ";")
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 15 {
		return 0, errNotHTTP
	}
	return strconv.ParseInt(s, 16, 64)
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

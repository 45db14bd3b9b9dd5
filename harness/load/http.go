package load

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/faultline/faultline/harness/history"
)

// HTTPOutcome maps an HTTP exchange onto an operation's outcome and class; it is the one
// place that knows HTTP status codes. With err set (no answer): unknown, or failed when
// the connection was refused (the request reached nothing), of class timeout, refused,
// reset, eof or error. With an answer: 429 is shed, failed "429"; a 5xx is unknown
// ("5xx:502"), since a proxy's error does not say whether the call behind it took
// effect; any other answer is served, ok, with a 4xx keeping its code as class
// ("4xx:409": a refusal the caller asked for is a correct answer).
func HTTPOutcome(status int, err error) (history.Outcome, string) {
	switch {
	case err != nil:
		class := history.ErrorClass(err.Error())
		if class == "refused" {
			return history.Failed, class
		}
		return history.Unknown, class
	case status == http.StatusTooManyRequests:
		return history.Failed, "429"
	case status >= 500:
		return history.Unknown, "5xx:" + strconv.Itoa(status)
	case status >= 400:
		return history.OK, "4xx:" + strconv.Itoa(status)
	case status <= 0:
		return history.Unknown, "error"
	}
	return history.OK, ""
}

// HTTPOp is the record of one HTTP exchange: its outcome and class (HTTPOutcome), the
// instance that served it from the X-Served-By header and its tries from X-Attempts
// (headers the reference gateway sets; absent, they stay empty), the error text, and
// the start of an error answer's body as Output["body"].
func HTTPOp(status int, header http.Header, body []byte, err error) history.Op {
	op := history.Op{}
	op.Outcome, op.Class = HTTPOutcome(status, err)
	if err != nil {
		op.Err = err.Error()
	}
	if header != nil {
		op.ServedBy = header.Get("X-Served-By")
		op.Attempts, _ = strconv.Atoi(header.Get("X-Attempts"))
	}
	if status >= 400 && len(body) > 0 {
		op.Output = map[string]string{"body": string(bytes.TrimSpace(body[:min(len(body), 200)]))}
	}
	return op
}

package netguard

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// errorHeaders is what net/http puts between the status line and the body
// of the answers it writes itself (conn.serve in net/http/server.go).
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// maxAnswer bounds the writes worth examining: net/http's own answers are
// shorter than this, and most writes are longer.
const maxAnswer = 512

// ownAnswer returns the status of p if p is, byte for byte, one of the
// answers net/http writes on the raw connection, in a single Write,
// outside any handler, to a request it could not read:
//
//	HTTP/1.1 431 Request Header Fields Too Large   header over MaxHeaderBytes
//	HTTP/1.1 400 Bad Request                       malformed request
//	HTTP/1.1 400 Bad Request: REASON               missing or malformed Host, bad header name or value
//	HTTP/1.1 505 HTTP Version Not Supported: REASON  not HTTP/1.x
//	HTTP/1.1 501 Not Implemented                   unsupported Transfer-Encoding
//
// each followed by errorHeaders and a body that repeats the status line,
// except the 501's, which is "Unsupported transfer encoding". The answer
// of a handler does not match: net/http adds Content-Length or
// Transfer-Encoding to it. A later piece of a long body could, if the
// handler wrote these very bytes; JSON cannot, holding no bare CR or LF.
func ownAnswer(p []byte) (status int, ok bool) {
	if len(p) > maxAnswer {
		return 0, false
	}
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok {
		return 0, false
	}
	line, body, ok := bytes.Cut(rest, []byte(errorHeaders))
	if !ok || len(line) < 4 || line[3] != ' ' {
		return 0, false
	}
	status, err := strconv.Atoi(string(line[:3]))
	if err != nil || status < 400 || status > 599 {
		return 0, false
	}
	reason, ok := bytes.CutPrefix(line[4:], []byte(http.StatusText(status)))
	if !ok || (len(reason) > 0 && !bytes.HasPrefix(reason, []byte(": "))) {
		return 0, false
	}
	switch {
	case bytes.Equal(body, line):
	case status == http.StatusNotImplemented && len(reason) == 0 && string(body) == "Unsupported transfer encoding":
	default:
		return 0, false
	}
	return status, true
}

// rewrite returns the answer that replaces p, if p is one of net/http's
// own answers: the same status, without net/http's reason, whose text is
// not ours to pass on, and errorBody's JSON.
func rewrite(p []byte, errorBody func(status int) []byte) ([]byte, bool) {
	status, ok := ownAnswer(p)
	if !ok {
		return nil, false
	}
	body := errorBody(status)
	answer := fmt.Appendf(make([]byte, 0, 256+len(body)),
		"HTTP/1.1 %d %s\r\n"+
			"Content-Type: application/json; charset=utf-8\r\n"+
			"Content-Length: %d\r\n"+
			"Connection: close\r\n"+
			"Cache-Control: no-store\r\n"+
			"X-Content-Type-Options: nosniff\r\n"+
			"Date: %s\r\n\r\n",
		status, http.StatusText(status), len(body), time.Now().UTC().Format(http.TimeFormat))
	return append(answer, body...), true
}

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/httpstatus"
)

// accessLog logs one line per request: method, path, status, duration and
// client address, as the other log lines are written (slog's text or JSON
// handler, at level INFO), but formatted by hand: it runs on every request,
// and slog's general handlers cost more than the rest of a cached GET /me's
// logging. TestAccessLineMatchesSlog holds the two to the same bytes. The
// query string is never logged: it is where codes and misplaced tokens
// travel.
func accessLog(w io.Writer, format string, next http.Handler) http.Handler {
	json := format == "json"
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpstatus.Writer{ResponseWriter: rw}
		next.ServeHTTP(sw, r)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		bp := lineBuffers.Get().(*[]byte)
		line := appendAccessLine((*bp)[:0], json, time.Now(), r.Method, r.URL.Path, sw.Status, time.Since(start).Milliseconds(), host)
		w.Write(line)
		*bp = line
		lineBuffers.Put(bp)
	})
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendAccessLine appends the access log line slog's text (or JSON)
// handler would write for these attributes at time t.
func appendAccessLine(b []byte, asJSON bool, t time.Time, method, path string, status int, ms int64, ip string) []byte {
	if asJSON {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":"request","method":`...)
		b = appendJSONString(b, method)
		b = append(b, `,"path":`...)
		b = appendJSONString(b, path)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendInt(b, ms, 10)
		b = append(b, `,"ip":`...)
		b = appendJSONString(b, ip)
		return append(b, "}\n"...)
	}
	b = append(b, "time="...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " level=INFO msg=request method="...)
	b = appendTextValue(b, method)
	b = append(b, " path="...)
	b = appendTextValue(b, path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, " ip="...)
	b = appendTextValue(b, ip)
	return append(b, '\n')
}

// appendTextValue appends s as slog's text handler writes a string value:
// as it is, or quoted (strconv.Quote) if it is empty or holds a space, an
// '=' or '"', a character that is not printable, or invalid UTF-8.
func appendTextValue(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendJSONString appends s as slog's JSON handler writes a string, which
// is encoding/json's escaping without the HTML escapes.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < utf8.RuneSelf && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// logHandler returns the handler of the log format ("text" or "json") on w.
func logHandler(w io.Writer, format string) slog.Handler {
	if format == "json" {
		return slog.NewJSONHandler(w, nil)
	}
	return slog.NewTextHandler(w, nil)
}

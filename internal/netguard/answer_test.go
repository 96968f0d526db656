package netguard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/rawhttp"
)

// testErrorBody is a JSON body that names the status it was made for.
func testErrorBody(status int) []byte {
	return fmt.Appendf(nil, `{"error":"test_error","status":%d}`+"\n", status)
}

// TestOwnAnswersBecomeJSON sends raw requests that net/http answers itself
// to a real server, and one that a handler answers in plain text.
func TestOwnAnswersBecomeJSON(t *testing.T) {
	l := listen(t, Config{Max: 16, ErrorBody: testErrorBody})
	serveHTTP(t, l, &http.Server{
		MaxHeaderBytes: 16 << 10,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The headers of net/http's own 400, from a handler.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "400 Bad Request")
		}),
	})

	cases := []struct {
		name    string
		request string
		status  int
		json    bool
	}{
		{"header too large", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, true},
		{"malformed request line", "GET /\r\nHost: gatehouse.test\r\n\r\n", http.StatusBadRequest, true},
		{"malformed header line", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\nno colon\r\n\r\n", http.StatusBadRequest, true},
		{"invalid header value", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\nX-A: a\x01b\r\n\r\n", http.StatusBadRequest, true},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", http.StatusBadRequest, true},
		{"malformed Host", "GET / HTTP/1.1\r\nHost: <script>\r\n\r\n", http.StatusBadRequest, true},
		{"unsupported Transfer-Encoding", "POST / HTTP/1.1\r\nHost: gatehouse.test\r\nTransfer-Encoding: gzip\r\n\r\n",
			http.StatusNotImplemented, true},
		{"HTTP/2 request line", "GET / HTTP/2.0\r\nHost: gatehouse.test\r\n\r\n", http.StatusHTTPVersionNotSupported, true},
		{"handler's plain-text 400", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n", http.StatusBadRequest, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := rawhttp.Send(t, dial(t, l), c.request)
			if resp.StatusCode != c.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, c.status)
			}
			if !c.json {
				if got, want := resp.Header.Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
					t.Errorf("Content-Type: got %q, want %q", got, want)
				}
				if got, want := string(body), "400 Bad Request"; got != want {
					t.Errorf("body: got %q, want %q", got, want)
				}
				return
			}
			var got struct {
				Error  string
				Status int
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if got.Error != "test_error" || got.Status != c.status {
				t.Errorf("body: got %+v, want ErrorBody(%d)", got, c.status)
			}
			for k, want := range map[string]string{
				"Content-Type":           "application/json; charset=utf-8",
				"Content-Length":         fmt.Sprint(len(body)),
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			if !resp.Close { // ReadResponse takes "Connection: close" out of Header
				t.Error("Close: got false, want true")
			}
		})
	}
}

// goAnswer formats an answer as net/http's conn.serve does.
func goAnswer(code int, reason, body string) string {
	line := fmt.Sprintf("%d %s", code, http.StatusText(code))
	if reason != "" {
		line += ": " + reason
	}
	if body == "" {
		body = line
	}
	return "HTTP/1.1 " + line + errorHeaders + body
}

func TestOwnAnswer(t *testing.T) {
	cases := []struct {
		name   string
		write  string
		status int // 0: not one of net/http's own answers
	}{
		{"431", goAnswer(431, "", ""), 431},
		{"400", goAnswer(400, "", ""), 400},
		{"400 with reason", goAnswer(400, "missing required Host header", ""), 400},
		{"505 with reason", goAnswer(505, "unsupported protocol version", ""), 505},
		{"501", goAnswer(501, "", "Unsupported transfer encoding"), 501},

		{"501 with another body", goAnswer(501, "", "Unsupported"), 0},
		{"body not the status line", goAnswer(400, "", "400 Bad"), 0},
		{"empty body", "HTTP/1.1 400 Bad Request" + errorHeaders, 0},
		{"status text not the code's", "HTTP/1.1 400 Not Found" + errorHeaders + "400 Not Found", 0},
		{"no space after the reason's colon", "HTTP/1.1 400 Bad Request:x" + errorHeaders + "400 Bad Request:x", 0},
		{"2xx", goAnswer(200, "", ""), 0},
		{"3xx", goAnswer(302, "", ""), 0},
		{"HTTP/1.0", strings.Replace(goAnswer(400, "", ""), "HTTP/1.1", "HTTP/1.0", 1), 0},
		{"with Date", strings.Replace(goAnswer(400, "", ""), "Connection: close\r\n", "Connection: close\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n", 1), 0},
		{"with Content-Length", strings.Replace(goAnswer(400, "", ""), "Connection: close\r\n", "Connection: close\r\nContent-Length: 15\r\n", 1), 0},
		{"handler's 400", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 15\r\n\r\n400 Bad Request", 0},
		{"too long", goAnswer(400, strings.Repeat("x", maxAnswer), ""), 0},
		{"bad code", "HTTP/1.1 4x0 Bad Request" + errorHeaders + "4x0 Bad Request", 0},
		{"empty", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, ok := ownAnswer([]byte(c.write))
			if ok != (c.status != 0) || status != c.status {
				t.Errorf("got %d %v, want %d %v", status, ok, c.status, c.status != 0)
			}
		})
	}
}

// FuzzRewrite: whatever is written, a rewrite is a well-formed answer with
// the status of the write it replaces.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte(goAnswer(431, "", "")))
	f.Add([]byte(goAnswer(400, "invalid header value", "")))
	f.Add([]byte(goAnswer(501, "", "Unsupported transfer encoding")))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Fuzz(func(t *testing.T, p []byte) {
		answer, ok := rewrite(p, testErrorBody)
		if !ok {
			return
		}
		if !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || !bytes.Contains(p, []byte(errorHeaders)) {
			t.Fatalf("rewrote %q", p)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), nil)
		if err != nil {
			t.Fatalf("rewrite of %q: %v", p, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(p[len("HTTP/1.1 "):][:3]); fmt.Sprint(resp.StatusCode) != want {
			t.Errorf("status: got %d, want %s", resp.StatusCode, want)
		}
		if !bytes.Equal(body, testErrorBody(resp.StatusCode)) {
			t.Errorf("body: got %q, want %q", body, testErrorBody(resp.StatusCode))
		}
	})
}

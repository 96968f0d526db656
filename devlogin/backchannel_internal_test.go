package devlogin

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// TestRecorderAnswersLikeAServer: the in-process response has what a
// client would have received over the wire.
func TestRecorderAnswersLikeAServer(t *testing.T) {
	cases := []struct {
		name    string
		handler func(w http.ResponseWriter)
		status  int
		header  http.Header
		body    string
	}{
		{"nothing written", func(w http.ResponseWriter) {}, http.StatusOK, http.Header{}, ""},
		{"Write without WriteHeader", func(w http.ResponseWriter) {
			w.Header().Set("A", "1")
			io.WriteString(w, "hi")
		}, http.StatusOK, http.Header{"A": {"1"}}, "hi"},
		{"headers set after WriteHeader", func(w http.ResponseWriter) {
			w.Header().Set("A", "1")
			w.WriteHeader(http.StatusTeapot)
			w.Header().Set("B", "2")
			io.WriteString(w, "tea")
		}, http.StatusTeapot, http.Header{"A": {"1"}}, "tea"},
		{"second WriteHeader", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusUnauthorized)
			w.WriteHeader(http.StatusOK)
		}, http.StatusUnauthorized, http.Header{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{header: http.Header{}}
			c.handler(rec)
			resp := rec.response(nil)
			body, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("%d %s", c.status, http.StatusText(c.status)); resp.StatusCode != c.status || resp.Status != want {
				t.Errorf("status: got %d %q, want %q", resp.StatusCode, resp.Status, want)
			}
			if len(resp.Header) != len(c.header) || resp.Header.Get("A") != c.header.Get("A") || resp.Header.Get("B") != c.header.Get("B") {
				t.Errorf("header: got %v, want %v", resp.Header, c.header)
			}
			if string(body) != c.body || resp.ContentLength != int64(len(c.body)) {
				t.Errorf("body: got %q (length %d), want %q", body, resp.ContentLength, c.body)
			}
		})
	}
}

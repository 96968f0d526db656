package devlogin

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// backchannelURL is the base URL the provider side calls the token and
// userinfo endpoints at. Only the in-process transport below answers it: its
// host is under .invalid (RFC 6761), so a request that somehow reached a
// network transport could not even be resolved.
const backchannelURL = "http://dev-login.invalid"

// backchannel is the transport of the provider side. It serves each request
// by calling the token and userinfo handler in-process: no socket, no
// listener, so Gatehouse cannot be made to call anything else, nobody else
// can call these endpoints, and a login in flight still completes while the
// listener shuts down.
type backchannel struct {
	handler http.Handler
}

func (b backchannel) RoundTrip(req *http.Request) (*http.Response, error) {
	var body io.ReadCloser = http.NoBody
	if req.Body != nil {
		// Closed when the handler is done, or at once if the caller gives
		// up, which also unblocks a handler still reading it.
		body = &closeOnce{ReadCloser: req.Body}
	}
	if req.URL.Scheme+"://"+req.URL.Host != backchannelURL {
		body.Close()
		return nil, fmt.Errorf("devlogin: the back-channel serves only %s, not %s", backchannelURL, req.URL.Redacted())
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		body.Close()
		return nil, err
	}
	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	length := req.ContentLength
	if length == 0 && body != http.NoBody {
		length = -1 // a client's 0 with a body means unknown
	}
	// The request as a server would have parsed it off the wire.
	sr := (&http.Request{
		Method:        cmp.Or(req.Method, http.MethodGet),
		URL:           &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          body,
		ContentLength: length,
		Host:          cmp.Or(req.Host, req.URL.Host),
		RequestURI:    req.URL.RequestURI(),
	}).WithContext(ctx)

	done := make(chan *http.Response, 1)
	go func() {
		defer body.Close()
		rec := &recorder{header: http.Header{}}
		b.handler.ServeHTTP(rec, sr)
		done <- rec.response(req)
	}()
	select {
	case resp := <-done:
		return resp, nil
	case <-ctx.Done():
		body.Close()
		return nil, ctx.Err()
	}
}

// closeOnce is a body that may be closed from two goroutines.
type closeOnce struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}

// recorder is the http.ResponseWriter of an in-process request: it keeps
// the status, the headers as they were when the status was written, and
// the body.
type recorder struct {
	header http.Header
	status int
	sent   http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 {
		return
	}
	r.status = code
	r.sent = r.header.Clone()
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// response returns what was recorded as the answer to req.
func (r *recorder) response(req *http.Request) *http.Response {
	r.WriteHeader(http.StatusOK)
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", r.status, http.StatusText(r.status)),
		StatusCode:    r.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.sent,
		Body:          io.NopCloser(bytes.NewReader(r.body.Bytes())),
		ContentLength: int64(r.body.Len()),
		Request:       req,
	}
}

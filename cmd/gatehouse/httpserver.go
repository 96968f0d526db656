package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/netguard"
	"github.com/gatehouse/gatehouse/server"
)

// readHeaderTimeout is how long a client has to send its request
// headers: a client that trickles them (Slowloris) is cut off after it.
const readHeaderTimeout = 5 * time.Second

// newHTTPServer returns the server for h, with the timeouts and limits that
// bound what one client can hold of it.
func newHTTPServer(h http.Handler, log slog.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log, slog.LevelWarn),
	}
}

// guard caps the connections srv serves from ln at max. Above 90% of max,
// srv turns keep-alives off, closing its idle connections, so that they
// do not hold the slots new clients need; it turns them back on at 75%.
func guard(ln net.Listener, srv *http.Server, max int, log *slog.Logger) (*netguard.Listener, error) {
	return netguard.NewListener(ln, netguard.Config{
		Max: max,
		Crowded: func(crowded bool) {
			srv.SetKeepAlivesEnabled(!crowded)
			if crowded {
				log.Warn("near the connection limit: keep-alives off, idle connections closed", "max_connections", max)
			} else {
				log.Info("well under the connection limit again: keep-alives on", "max_connections", max)
			}
		},
		ErrorBody: listenerError,
	})
}

// listenerErrors maps the status of each answer net/http writes itself,
// to a request it could not read, to the API's error. net/http's reason is
// not passed on: it is net/http's wording, not the API's.
var listenerErrors = map[int]struct{ code, message string }{
	http.StatusBadRequest:                  {gatehouse.EInvalidRequest, "the request is malformed"},
	http.StatusRequestHeaderFieldsTooLarge: {gatehouse.EHeaderTooLarge, "the request header is too large"},
	http.StatusNotImplemented:              {gatehouse.EInvalidRequest, "the request's Transfer-Encoding is not supported"},
	http.StatusHTTPVersionNotSupported:     {gatehouse.EInvalidRequest, "the HTTP version is not supported"},
}

// listenerError is the JSON body of the API's answer in place of one that
// net/http writes itself; the status stays net/http's. A status net/http
// may use some day gets a generic error of its class.
func listenerError(status int) []byte {
	e, ok := listenerErrors[status]
	switch {
	case ok:
	case status >= 500:
		e.code, e.message = gatehouse.EInternal, "internal error"
	default:
		e.code, e.message = gatehouse.EInvalidRequest, "the request could not be read"
	}
	_, body := server.ErrorResponse(e.code, e.message)
	return body
}

// inFlight counts the requests being served, so that a shutdown can say
// how many it cut.
type inFlight struct{ n atomic.Int64 }

// count wraps the outermost handler.
func (f *inFlight) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.n.Add(1)
		defer f.n.Add(-1)
		next.ServeHTTP(w, r)
	})
}

// drain shuts srv down, waiting up to timeout for the requests in flight,
// then cutting those left. A cut is logged rather than returned: asked to
// stop, the server stopped, as configured.
func drain(srv *http.Server, ln *netguard.Listener, requests *inFlight, timeout time.Duration, log *slog.Logger) error {
	log.Info("shutting down", "timeout", timeout.String())
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			log.Info("shutdown drained", "duration_ms", time.Since(start).Milliseconds())
		}
		return err
	}
	log.Warn("shutdown drain timed out; cut the requests in flight", "requests", requests.n.Load(),
		"connections", ln.Open(), "timeout", timeout.String())
	srv.Close()
	return nil
}

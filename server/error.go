package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// errorCodes is the one table from error code to HTTP status and to the code
// clients see. Internal codes map to public ones here and nowhere else.
var errorCodes = map[string]struct {
	status int
	public string
}{
	gatehouse.EInvalidRequest:       {http.StatusBadRequest, gatehouse.EInvalidRequest},
	gatehouse.EInvalidState:         {http.StatusBadRequest, gatehouse.EInvalidState},
	gatehouse.EInvalidGrant:         {http.StatusBadRequest, gatehouse.EInvalidGrant},
	gatehouse.ERefreshRefused:       {http.StatusUnauthorized, gatehouse.EInvalidGrant},
	gatehouse.ERefreshReused:        {http.StatusUnauthorized, gatehouse.EInvalidGrant},
	gatehouse.EProviderDenied:       {http.StatusBadRequest, gatehouse.EAccessDenied},
	gatehouse.EAccessDenied:         {http.StatusForbidden, gatehouse.EAccessDenied},
	gatehouse.EUnauthorized:         {http.StatusUnauthorized, gatehouse.EUnauthorized},
	gatehouse.EInvalidToken:         {http.StatusUnauthorized, gatehouse.EInvalidToken},
	gatehouse.EUnsupportedProvider:  {http.StatusNotFound, gatehouse.EUnsupportedProvider},
	gatehouse.ENotFound:             {http.StatusNotFound, gatehouse.ENotFound},
	gatehouse.EMethodNotAllowed:     {http.StatusMethodNotAllowed, gatehouse.EMethodNotAllowed},
	gatehouse.ERequestTooLarge:      {http.StatusRequestEntityTooLarge, gatehouse.ERequestTooLarge},
	gatehouse.EHeaderTooLarge:       {http.StatusRequestHeaderFieldsTooLarge, gatehouse.EHeaderTooLarge},
	gatehouse.ERateLimited:          {http.StatusTooManyRequests, gatehouse.ERateLimited},
	gatehouse.EUnsupportedMediaType: {http.StatusUnsupportedMediaType, gatehouse.EUnsupportedMediaType},
	gatehouse.EUpstream:             {http.StatusBadGateway, gatehouse.EInternal},
	gatehouse.EUnavailable:          {http.StatusServiceUnavailable, gatehouse.EUnavailable},
	gatehouse.EUpstreamTimeout:      {http.StatusGatewayTimeout, gatehouse.EUnavailable},
	gatehouse.EInternal:             {http.StatusInternalServerError, gatehouse.EInternal},
	gatehouse.EIdentityInUse:        {http.StatusConflict, gatehouse.EIdentityInUse},
	gatehouse.EAccountExists:        {http.StatusConflict, gatehouse.EAccountExists},
	gatehouse.ELastIdentity:         {http.StatusConflict, gatehouse.ELastIdentity},
}

// defaultRetryAfter is sent with a 503 when the cause names no delay.
const defaultRetryAfter = 5

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// renderError writes err as the standard JSON error body. Only an *Error's
// code and message reach the client; its cause, and any other error, is
// logged for the operator.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errors.AsType[*gatehouse.Error](err)
	switch {
	case ok:
	case errors.Is(err, gatehouse.ErrUnavailable):
		e = &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the database is temporarily unavailable; try again", Err: err}
	default:
		e = &gatehouse.Error{Code: gatehouse.EInternal, Message: "internal error", Err: err}
	}
	c, known := errorCodes[e.Code]
	if !known {
		c = errorCodes[gatehouse.EInternal]
	}
	if c.status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"status", c.status, "code", e.Code, "err", causeOf(e))
	}
	switch c.status {
	case http.StatusUnauthorized:
		if e.Code == gatehouse.EInvalidToken {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			w.Header().Set("WWW-Authenticate", "Bearer")
		}
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	writeJSON(w, c.status, errorJSON(c.public, e.Message, e.Details))
}

// errorJSON is the JSON error body: "error", "error_description", and the
// error's details as further members, which never replace the first two.
func errorJSON(code, message string, details map[string]any) any {
	if len(details) == 0 {
		return errorBody{Error: code, Description: message}
	}
	body := make(map[string]any, len(details)+2)
	for k, v := range details {
		body[k] = v
	}
	body["error"], body["error_description"] = code, message
	return body
}

// retryAfterSeconds is the Retry-After header's value for a wait of d: whole
// seconds, rounded up, and defaultRetryAfter when d is not positive.
func retryAfterSeconds(d time.Duration) int {
	if d <= 0 {
		return defaultRetryAfter
	}
	return int((d + time.Second - 1) / time.Second)
}

// ErrorResponse returns the status and the JSON body of the API's answer to
// an error with the given code (one of the gatehouse.E… codes) and message.
// It is for answers written outside any handler, such as a listener's
// answer to a request it could not parse; handlers use renderError.
func ErrorResponse(code, message string) (status int, body []byte) {
	c, known := errorCodes[code]
	if !known {
		c = errorCodes[gatehouse.EInternal]
	}
	b, _ := json.Marshal(errorBody{Error: c.public, Description: message})
	return c.status, append(b, '\n')
}

func causeOf(e *gatehouse.Error) slog.Value {
	if e.Err == nil {
		return slog.StringValue(e.Message)
	}
	return slog.StringValue(e.Err.Error())
}

// jsonBuffers are the buffers writeJSON encodes into, reused across
// requests; one that grew past maxPooledJSON is left to the collector.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledJSON = 64 << 10

// contentTypeJSON is the Content-Type of every JSON answer, shared by all:
// Header.Set replaces a value rather than writing into it.
var contentTypeJSON = []string{"application/json; charset=utf-8"}

// userBuffers are the buffers writeUser appends into.
var userBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeUser writes u as a 200 answer's JSON body: what writeJSON would
// write, built without reflection (User.AppendJSON), for GET /me.
func writeUser(w http.ResponseWriter, u *gatehouse.User) {
	bp := userBuffers.Get().(*[]byte)
	b := append(u.AppendJSON((*bp)[:0]), '\n')
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	if cap(b) <= maxPooledJSON {
		*bp = b
		userBuffers.Put(bp)
	}
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledJSON {
			buf.Reset()
			jsonBuffers.Put(buf)
		}
	}()
	buf.Reset()
	// Encode ends the body with a newline, as the API's answers do.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"server_error","error_description":"internal error"}` + "\n")
	}
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// MaxResponseSize caps the body Gatehouse reads from any provider API call.
const MaxResponseSize = 1 << 20

// StatusError is a provider API answer outside 2xx. Its body is not kept.
type StatusError struct {
	URL        string
	StatusCode int
	Header     http.Header
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.StatusCode)
}

// GetJSON performs req with client and decodes a 2xx JSON answer of at most
// MaxResponseSize bytes into v. A non-2xx answer is returned as a
// *StatusError; see APIError to classify it. Transport failures and
// undecodable answers come back as *gatehouse.Error.
func GetJSON(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		return transportError("GET "+req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &StatusError{URL: req.URL.Redacted(), StatusCode: resp.StatusCode, Header: resp.Header}
	}
	if !isJSON(resp.Header.Get("Content-Type")) {
		return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider answered badly",
			Err: fmt.Errorf("GET %s: content type %q is not JSON", req.URL.Redacted(), Printable(resp.Header.Get("Content-Type")))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return transportError("GET "+req.URL.Redacted(), err)
	}
	if len(body) > MaxResponseSize {
		return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider answered badly",
			Err: fmt.Errorf("GET %s: response larger than %d bytes", req.URL.Redacted(), MaxResponseSize)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider answered badly",
			Err: fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)}
	}
	return nil
}

// APIError turns an error from GetJSON into a gatehouse error: rate limits
// (429, or 403 with x-ratelimit-remaining: 0 or Retry-After, as GitHub
// signals them) and 503 become EUnavailable with the provider's Retry-After;
// any other status is EUpstream.
func APIError(err error) error {
	se, ok := errors.AsType[*StatusError](err)
	if !ok {
		return err
	}
	limited := se.StatusCode == http.StatusTooManyRequests || se.StatusCode == http.StatusServiceUnavailable ||
		se.StatusCode == http.StatusForbidden && (se.Header.Get("X-Ratelimit-Remaining") == "0" || se.Header.Get("Retry-After") != "")
	if limited {
		return &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider is rate limiting us; try again later",
			RetryAfter: retryAfter(se.Header, time.Now()), Err: se}
	}
	return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider refused the profile request", Err: se}
}

// retryAfter reads Retry-After (seconds) or x-ratelimit-reset (Unix time),
// capped at an hour; zero if neither is usable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	} else if reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
		d = time.Unix(reset, 0).Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || len(mt) > 5 && mt[len(mt)-5:] == "+json")
}

// NewRequest returns a GET request for url carrying the provider access
// token as a bearer token.
func NewRequest(ctx context.Context, url, accessToken string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Gatehouse")
	return req, nil
}

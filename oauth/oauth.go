// Package oauth is the engine behind Gatehouse's OAuth 2.0 providers. A
// provider is mostly data, a Config: the endpoints and client credentials
// of an authorization server, and a function that turns the provider's
// access token into a gatehouse.Identity. New makes it a Provider, which
// adds what every such provider needs and golang.org/x/oauth2 leaves to its
// caller: PKCE S256 on every login, an explicit client authentication style
// (so a failed exchange is never retried with the same code), a JSON-only
// token endpoint, a timeout and a response size limit on every call, and
// the mapping of provider failures to gatehouse error codes.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"golang.org/x/oauth2"
)

// DefaultTimeout bounds each call to a provider when Config.HTTPClient is
// nil.
const DefaultTimeout = 10 * time.Second

// Config describes an OAuth 2.0 authorization server and Gatehouse's client
// there.
type Config struct {
	ClientID     string
	ClientSecret string
	// Endpoint holds the authorization and token URLs. Its AuthStyle must
	// be AuthStyleInParams or AuthStyleInHeader: auto-detection would send
	// the code twice when the first attempt fails.
	Endpoint oauth2.Endpoint
	Scopes   []string
	// HTTPClient makes every call to the provider. Nil means a client from
	// NewHTTPClient(DefaultTimeout).
	HTTPClient *http.Client
	// AuthURLParams are extra parameters of the authorization URL, such as
	// a provider's hint (Google's hd). They cannot replace a parameter the
	// engine sets (see ReservedParams).
	AuthURLParams url.Values
	// SendNonce, for OpenID Connect, adds the login's AuthParams.Nonce to
	// the authorization URL as the nonce parameter.
	SendNonce bool
	// Identity reads the identity of the person with the provider's token
	// response, using client for its requests (see GetJSON). ap are the
	// login's parameters, so that an OpenID Connect provider can check the
	// ID token's nonce.
	Identity func(ctx context.Context, client *http.Client, tok *oauth2.Token, ap gatehouse.AuthParams) (*gatehouse.Identity, error)
}

// ReservedParams are the authorization URL parameters the engine owns:
// Config.AuthURLParams cannot set them.
var ReservedParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state",
	"nonce", "code_challenge", "code_challenge_method", "code_verifier", "client_secret"}

// IsReservedParam reports whether name is one of ReservedParams, in any
// case, or starts with code_challenge.
func IsReservedParam(name string) bool {
	n := strings.ToLower(name)
	return slices.Contains(ReservedParams, n) || strings.HasPrefix(n, "code_challenge")
}

// Provider is a gatehouse.Provider for an OAuth 2.0 authorization server.
// It is safe for concurrent use.
type Provider struct {
	oauth       oauth2.Config
	identity    func(ctx context.Context, client *http.Client, tok *oauth2.Token, ap gatehouse.AuthParams) (*gatehouse.Identity, error)
	extra       []oauth2.AuthCodeOption
	sendNonce   bool
	client      *http.Client
	tokenClient *http.Client
}

// New checks c and returns a provider ready for use. The error names the
// missing or invalid field of c.
func New(c Config) (*Provider, error) {
	switch {
	case c.ClientID == "":
		return nil, errors.New("oauth: Config.ClientID is required")
	case c.ClientSecret == "":
		return nil, errors.New("oauth: Config.ClientSecret is required")
	case c.Endpoint.AuthURL == "" || c.Endpoint.TokenURL == "":
		return nil, errors.New("oauth: Config.Endpoint needs an AuthURL and a TokenURL")
	case c.Endpoint.AuthStyle == oauth2.AuthStyleAutoDetect:
		return nil, errors.New("oauth: Config.Endpoint.AuthStyle must be AuthStyleInParams or AuthStyleInHeader")
	case c.Identity == nil:
		return nil, errors.New("oauth: Config.Identity is required")
	}
	var extra []oauth2.AuthCodeOption
	for _, k := range slices.Sorted(maps.Keys(c.AuthURLParams)) {
		if IsReservedParam(k) {
			return nil, fmt.Errorf("oauth: Config.AuthURLParams cannot set %q", Printable(k))
		}
		if len(c.AuthURLParams[k]) != 1 {
			return nil, fmt.Errorf("oauth: Config.AuthURLParams needs exactly one value for %q", Printable(k))
		}
		extra = append(extra, oauth2.SetAuthURLParam(k, c.AuthURLParams[k][0]))
	}
	client := c.HTTPClient
	if client == nil {
		client = NewHTTPClient(DefaultTimeout)
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	tc := *client
	tc.Transport = jsonOnly{base}
	return &Provider{
		oauth: oauth2.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.ClientSecret,
			Endpoint:     c.Endpoint,
			Scopes:       c.Scopes,
		},
		identity:    c.Identity,
		extra:       extra,
		sendNonce:   c.SendNonce,
		client:      client,
		tokenClient: &tc,
	}, nil
}

// NewHTTPClient returns an HTTP client for provider calls: each request is
// bounded by timeout, redirects are not followed, and response headers are
// capped.
func NewHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = 64 << 10
	t.ResponseHeaderTimeout = timeout
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// AuthCodeURL returns the authorization URL for one login, with state, the
// exact redirect_uri, the scopes and the S256 challenge of the verifier,
// the nonce if Config.SendNonce is set, and Config.AuthURLParams.
func (p *Provider) AuthCodeURL(ap gatehouse.AuthParams) string {
	opts := append(slices.Clip(p.extra),
		oauth2.SetAuthURLParam("redirect_uri", ap.RedirectURI),
		oauth2.S256ChallengeOption(ap.CodeVerifier))
	if p.sendNonce {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", ap.Nonce))
	}
	return p.oauth.AuthCodeURL(ap.State, opts...)
}

// Exchange trades code for a provider access token, sending the verifier
// and redirect_uri, and reads the identity with it. The provider token is
// used for this login only and not kept.
func (p *Provider) Exchange(ctx context.Context, code string, ap gatehouse.AuthParams) (*gatehouse.Identity, error) {
	start := time.Now()
	tok, err := p.oauth.Exchange(context.WithValue(ctx, oauth2.HTTPClient, p.tokenClient), code,
		oauth2.SetAuthURLParam("redirect_uri", ap.RedirectURI),
		oauth2.VerifierOption(ap.CodeVerifier))
	if err != nil {
		// x/oauth2 flattens an error met while reading the answer into
		// text, so a timeout is recognized by the clock: the request
		// failed once its whole time was up.
		// A provider that answered, however late, is judged by its answer.
		_, answered := errors.AsType[*oauth2.RetrieveError](err)
		timedOut := p.client.Timeout > 0 && time.Since(start) >= p.client.Timeout ||
			errors.Is(ctx.Err(), context.DeadlineExceeded)
		if timedOut && !answered {
			return nil, &gatehouse.Error{Code: gatehouse.EUpstreamTimeout, Message: "the provider did not answer in time",
				Err: fmt.Errorf("token request: reading the answer timed out: %w", err)}
		}
		return nil, exchangeError(err)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider answered with an unusable token",
			Err: fmt.Errorf("token_type %q is not bearer", Printable(tok.TokenType))}
	}
	ident, err := p.identity(ctx, p.client, tok, ap)
	if err != nil {
		return nil, err
	}
	if ident.Subject == "" {
		return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider did not identify the user",
			Err: errors.New("empty subject")}
	}
	return ident, nil
}

// exchangeError maps a failed token request to a gatehouse error. The
// provider's answer is reduced to its error code: RetrieveError.Error()
// would carry the whole response body into our logs.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		cause := fmt.Errorf("token endpoint answered HTTP %d, error %q", status, Printable(re.ErrorCode))
		switch re.ErrorCode {
		case "bad_verification_code", "invalid_grant":
			return &gatehouse.Error{Code: gatehouse.EInvalidGrant, Message: "the authorization code is invalid, expired or already used", Err: cause}
		case "unverified_user_email":
			return &gatehouse.Error{Code: gatehouse.EAccessDenied, Message: "verify your primary email at the provider", Err: cause}
		case "access_denied":
			return &gatehouse.Error{Code: gatehouse.EAccessDenied, Message: "the provider denied access", Err: cause}
		case "temporarily_unavailable":
			return &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider is temporarily unavailable", Err: cause}
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			return &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider is temporarily unavailable",
				RetryAfter: retryAfter(re.Response.Header, time.Now()), Err: cause}
		}
		return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider refused the token request", Err: cause}
	}
	if se, ok := errors.AsType[*tokenStatusError](err); ok {
		return &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider is temporarily unavailable",
			RetryAfter: se.retryAfter, Err: se}
	}
	return transportError("token request", err)
}

// transportError classifies an error from an HTTP round trip.
func transportError(what string, err error) error {
	if isTimeout(err) {
		return &gatehouse.Error{Code: gatehouse.EUpstreamTimeout, Message: "the provider did not answer in time",
			Err: fmt.Errorf("%s: %w", what, err)}
	}
	return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider could not be reached or answered badly",
		Err: fmt.Errorf("%s: %w", what, err)}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Printable returns s cut to 64 bytes of printable ASCII, for logging a
// value a remote server chose.
func Printable(s string) string {
	b := make([]byte, 0, min(len(s), 64))
	for i := 0; i < len(s) && len(b) < 64; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// jsonOnly asks the token endpoint for JSON and refuses any other answer.
// GitHub answers form-encoded unless asked, and a token endpoint that
// ignores the request for JSON is not behaving as documented.
type jsonOnly struct{ base http.RoundTripper }

// tokenStatusError is a token endpoint's non-JSON 429 or 503: the provider
// is overloaded, not broken.
type tokenStatusError struct {
	status     int
	retryAfter time.Duration
}

func (e *tokenStatusError) Error() string {
	return fmt.Sprintf("token endpoint answered HTTP %d", e.status)
}

func (j jsonOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/json")
	resp, err := j.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if !isJSON(resp.Header.Get("Content-Type")) {
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			return nil, &tokenStatusError{status: resp.StatusCode, retryAfter: retryAfter(resp.Header, time.Now())}
		}
		return nil, fmt.Errorf("token endpoint answered HTTP %d with content type %q, not JSON",
			resp.StatusCode, Printable(resp.Header.Get("Content-Type")))
	}
	return resp, nil
}

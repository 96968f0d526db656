package devlogin

import (
	"net/http"
	"time"
)

// Limits and lifetimes, for the tests in package devlogin_test.
const (
	MaxPendingPerClient = maxPendingPerClient
	MaxPending          = maxPending
	RequestTTL          = requestTTL
	CodeTTL             = codeTTL
	TokenTTL            = tokenTTL
	BackchannelURL      = backchannelURL
)

// Sizes is how much state a Server holds: the entries of each map, the
// length of each expiry queue, and the client addresses with a count of
// pending requests.
type Sizes struct {
	Requests, RequestQueue int
	Codes, CodeQueue       int
	Tokens, TokenQueue     int
	Clients                int
}

// Sizes reports what s holds now, without expiring anything.
func (s *Server) Sizes() Sizes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Sizes{
		Requests: len(s.requests.index), RequestQueue: s.requests.order.Len(),
		Codes: len(s.codes.index), CodeQueue: s.codes.order.Len(),
		Tokens: len(s.tokens.index), TokenQueue: s.tokens.order.Len(),
		Clients: len(s.perClient),
	}
}

// BackchannelClient returns a client whose requests go to the in-process
// back-channel, as the provider side's do.
func (s *Server) BackchannelClient() *http.Client {
	return &http.Client{Transport: s.transport, Timeout: 10 * time.Second}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// devClient signs in through the gatehouse binary's development login the
// way a browser on this machine does, from a loopback address of its own.
//
// Its own address matters: the development login lets one client address
// have at most 20 authorize pages pending (maxPendingPerClient in
// devlogin/devlogin.go), so 64 clients on 127.0.0.1 would be refused with
// 429. Every address of 127.0.0.0/8 is this machine's, and each client
// gets one, as each browser has its own.
type devClient struct {
	base   string // the public URL, http://127.0.0.1:PORT
	client *http.Client
}

// session is what a login answers: an access token and the refresh
// cookie's value.
type session struct {
	access, refresh string
}

// clientAddr is the loopback address of client i: 127.1.x.y, never .0.
func clientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)})
}

func newDevClient(base string, i int) *devClient {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(clientAddr(i), 0))}
	return &devClient{base: base, client: &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, DisableCompression: true},
		Timeout:   30 * time.Second,
		// The form answers a redirect to the app, which is read, not
		// followed: the app is this client.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login runs one whole login: GET /auth/dev/login (the provider URL and
// the login cookie), the authorize page, the form (a redirect carrying
// code and state), then POST /auth/dev/authorize with them and the login
// cookie.
func (c *devClient) login(ctx context.Context, email string) (*session, error) {
	// 1. Start: the provider URL and the login cookie.
	resp, body, err := c.do(ctx, http.MethodGet, c.base+"/auth/dev/login", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("GET /auth/dev/login: %w", err)
	}
	var start struct{ URL string }
	if err := json.Unmarshal(body, &start); err != nil || start.URL == "" {
		return nil, fmt.Errorf("GET /auth/dev/login: no url in %q", body)
	}
	binding := cookieValue(resp, "gatehouse_login")
	if binding == "" {
		return nil, errors.New("GET /auth/dev/login: no login cookie")
	}

	// 2. The authorize page, whose form names the pending request.
	_, page, err := c.do(ctx, http.MethodGet, start.URL, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("GET the authorize page: %w", err)
	}
	const marker = `name="request" value="`
	i := bytes.Index(page, []byte(marker))
	if i < 0 {
		return nil, errors.New("the authorize page has no request")
	}
	id, _, _ := strings.Cut(string(page[i+len(marker):]), `"`)

	// 3. The form: a redirect to the app with code and state.
	name, _, _ := strings.Cut(email, "@")
	form := url.Values{"request": {id}, "name": {name}, "email": {email}, "email_verified": {"1"}, "action": {"allow"}}
	u, _ := url.Parse(start.URL)
	resp, _, err = c.do(ctx, http.MethodPost, u.Scheme+"://"+u.Host+u.Path, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if err != nil && !isStatus(err, http.StatusFound) {
		return nil, fmt.Errorf("POST the authorize form: %w", err)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("the authorize form redirected to %q, without a code", resp.Header.Get("Location"))
	}

	// 4. Finish: the session.
	q := loc.Query()
	finish, _ := json.Marshal(map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	resp, body, err = c.do(ctx, http.MethodPost, c.base+"/auth/dev/authorize", bytes.NewReader(finish),
		http.Header{"Content-Type": {"application/json"}, "Cookie": {"gatehouse_login=" + binding}})
	if err != nil {
		return nil, fmt.Errorf("POST /auth/dev/authorize: %w", err)
	}
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tokens); err != nil || tokens.AccessToken == "" {
		return nil, fmt.Errorf("POST /auth/dev/authorize: no access token in %q", body)
	}
	s := &session{access: tokens.AccessToken, refresh: cookieValue(resp, "gatehouse_refresh")}
	if s.refresh == "" {
		return nil, errors.New("POST /auth/dev/authorize: no refresh cookie")
	}
	return s, nil
}

// do sends a request and reads the whole answer; any status but 200 is a
// *statusError (with the response still returned).
func (c *devClient) do(ctx context.Context, method, u string, body io.Reader, h http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp, b, &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	return resp, b, nil
}

func (c *devClient) close() { c.client.CloseIdleConnections() }

func isStatus(err error, status int) bool {
	se, ok := errors.AsType[*statusError](err)
	return ok && se.status == status
}

func cookieValue(resp *http.Response, name string) string {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// loginMany makes n sessions by n real logins, as user i of prefix, on
// workers clients at once.
func loginMany(ctx context.Context, base, prefix string, n, workers int) ([]*session, error) {
	out := make([]*session, n)
	next := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range min(workers, n) {
		c := newDevClient(base, w)
		wg.Go(func() {
			defer c.close()
			for i := range next {
				s, err := c.login(ctx, fmt.Sprintf("%s%d@bench.example", prefix, i))
				if err != nil {
					errc <- err
					return
				}
				out[i] = s
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return out, err
}

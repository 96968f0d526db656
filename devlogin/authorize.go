package devlogin

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// handleAuthorizePage checks an authorization request and shows the login
// form. A request with a wrong client or redirect_uri gets an error page,
// never a redirect to an address nobody registered.
func (s *Server) handleAuthorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") != s.clientID:
		s.page(w, http.StatusBadRequest, pageData{Error: "Unknown client_id."})
		return
	case q.Get("redirect_uri") != s.cfg.RedirectURI:
		s.page(w, http.StatusBadRequest, pageData{Error: "The redirect_uri is not the registered one."})
		return
	case q.Get("response_type") != "code":
		s.page(w, http.StatusBadRequest, pageData{Error: "Only response_type=code is supported."})
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		s.page(w, http.StatusBadRequest, pageData{Error: "A PKCE code_challenge with method S256 is required."})
		return
	case q.Get("state") == "":
		s.page(w, http.StatusBadRequest, pageData{Error: "A state parameter is required."})
		return
	case len(q.Get("nonce")) > maxNonceLen:
		s.page(w, http.StatusBadRequest, pageData{Error: "The nonce is longer than " + strconv.Itoa(maxNonceLen) + " bytes."})
		return
	}
	client := s.clientAddr(r)
	now := s.now()
	id := randomString()
	s.mu.Lock()
	s.requests.expire(now)
	if s.perClient[client] >= maxPendingPerClient {
		s.mu.Unlock()
		w.Header().Set("Retry-After", seconds(requestTTL))
		s.page(w, http.StatusTooManyRequests, pageData{Error: "Too many logins started from this address are pending; finish or cancel one, or try again in a few minutes."})
		return
	}
	if !s.requests.add(now, id, &authRequest{
		client:    client,
		state:     q.Get("state"),
		challenge: q.Get("code_challenge"),
		scope:     q.Get("scope"),
		nonce:     q.Get("nonce"),
	}) {
		retry := s.requests.retryAfter(now)
		s.mu.Unlock()
		w.Header().Set("Retry-After", seconds(retry))
		s.page(w, http.StatusServiceUnavailable, pageData{Error: "Too many pending logins; try again in a few minutes."})
		return
	}
	s.perClient[client]++
	s.mu.Unlock()
	s.page(w, http.StatusOK, pageData{Request: id, RedirectHost: hostOf(s.cfg.RedirectURI)})
}

// handleAuthorizeForm takes the submitted form and redirects to the client
// with a one-minute, single-use code, or with error=access_denied.
func (s *Server) handleAuthorizeForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusBadRequest, pageData{Error: "Malformed form."})
		return
	}
	id := r.PostForm.Get("request")
	now := s.now()
	s.mu.Lock()
	req, ok := s.requests.get(now, id)
	s.mu.Unlock()
	if !ok {
		s.page(w, http.StatusBadRequest, pageData{Error: expired})
		return
	}

	back := url.Values{"state": {req.state}}
	if r.PostForm.Get("action") == "deny" {
		s.mu.Lock()
		s.requests.remove(id)
		s.mu.Unlock()
		back.Set("error", "access_denied")
		http.Redirect(w, r, s.cfg.RedirectURI+"?"+back.Encode(), http.StatusFound)
		return
	}

	name := strings.TrimSpace(r.PostForm.Get("name"))
	email := strings.TrimSpace(r.PostForm.Get("email"))
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || utf8.RuneCountInString(email) > 254 || utf8.RuneCountInString(name) > 100 {
		s.page(w, http.StatusOK, pageData{Request: id, RedirectHost: hostOf(s.cfg.RedirectURI),
			Name: name, Email: email, Error: "Enter a name of at most 100 characters and a valid email address."})
		return
	}
	u := userinfo{
		// The subject is derived from the lower-cased email, so the same
		// address is the same identity at every login.
		Subject:           subjectOf(email),
		PreferredUsername: strings.ToLower(email[:strings.LastIndexByte(email, '@')]),
		Email:             email,
		EmailVerified:     r.PostForm.Get("email_verified") != "",
	}
	if name != "" {
		u.Name = &name
	}

	code := randomString()
	s.mu.Lock()
	// Room for the code is checked first, so that a full store does not
	// use up the request.
	if s.codes.full(now) {
		retry := s.codes.retryAfter(now)
		s.mu.Unlock()
		w.Header().Set("Retry-After", seconds(retry))
		s.page(w, http.StatusServiceUnavailable, pageData{Request: id, RedirectHost: hostOf(s.cfg.RedirectURI),
			Name: name, Email: email, Error: "Too many logins are being completed at once; try again in a minute."})
		return
	}
	// Taken, not just read: of two submissions of one form, one wins.
	if _, ok := s.requests.take(now, id); !ok {
		s.mu.Unlock()
		s.page(w, http.StatusBadRequest, pageData{Error: expired})
		return
	}
	s.codes.add(now, code, &grant{challenge: req.challenge, scope: req.scope, nonce: req.nonce, user: u})
	s.mu.Unlock()
	back.Set("code", code)
	http.Redirect(w, r, s.cfg.RedirectURI+"?"+back.Encode(), http.StatusFound)
}

const expired = "This login request has expired or was already used. Start again from the app."

// seconds formats d for a Retry-After header.
func seconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

func subjectOf(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "dev-" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

type pageData struct {
	Request      string
	RedirectHost string
	Name         string
	Email        string
	Error        string
}

func (s *Server) page(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// The form posts here and is then redirected to the app, so the
	// app's origin must be allowed as a form target too.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src '"+styleHash+"'; form-action 'self' "+
		originOf(s.cfg.RedirectURI)+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	pageTemplate.Execute(w, d)
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

const style = `
:root { color-scheme: light dark; --accent: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: Canvas; color: CanvasText; }
main { width: min(26rem, 92vw); padding: 2rem; border-radius: 14px;
  border: 1px solid color-mix(in srgb, CanvasText 15%, transparent);
  box-shadow: 0 10px 30px color-mix(in srgb, CanvasText 10%, transparent); }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; letter-spacing: .04em;
  text-transform: uppercase; color: var(--accent); border: 1px solid var(--accent);
  border-radius: 999px; padding: .1rem .6rem; }
h1 { font-size: 1.4rem; margin: .8rem 0 .3rem; }
p { margin: 0 0 1.2rem; opacity: .8; }
label { display: block; font-weight: 600; margin: .9rem 0 .3rem; }
input[type=text], input[type=email] { width: 100%; padding: .6rem .7rem; font: inherit;
  border-radius: 8px; border: 1px solid color-mix(in srgb, CanvasText 30%, transparent);
  background: Field; color: FieldText; }
.check { display: flex; gap: .5rem; align-items: center; font-weight: 400; }
.actions { display: flex; gap: .6rem; margin-top: 1.4rem; }
button { flex: 1; padding: .65rem; font: inherit; font-weight: 600; border-radius: 8px;
  cursor: pointer; border: 1px solid color-mix(in srgb, CanvasText 30%, transparent);
  background: transparent; color: inherit; }
button.primary { background: #1f6feb; border-color: #1f6feb; color: #fff; }
.error { color: #d1242f; font-weight: 600; }
`

var styleHash = func() string {
	sum := sha256.Sum256([]byte(style))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}()

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Development login · Gatehouse</title>
<style>` + style + `</style>
</head>
<body>
<main>
<span class="badge">Development only</span>
<h1>Development login</h1>
<p>This sign-in page is built into Gatehouse for trying it out on your own machine. Anyone who can open it can sign in as anyone: it must never be used in production.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .Request}}
<form method="post">
<input type="hidden" name="request" value="{{.Request}}">
<label for="name">Name</label>
<input type="text" id="name" name="name" value="{{if .Name}}{{.Name}}{{else}}Ada Lovelace{{end}}" maxlength="100" autocomplete="name">
<label for="email">Email</label>
<input type="email" id="email" name="email" value="{{if .Email}}{{.Email}}{{else}}ada@example.com{{end}}" required maxlength="254" autocomplete="email">
<label class="check"><input type="checkbox" name="email_verified" value="1" checked> Treat the email as verified</label>
<div class="actions">
<button type="submit" name="action" value="deny">Cancel</button>
<button type="submit" name="action" value="allow" class="primary">Sign in</button>
</div>
</form>
<p><small>You will be sent back to {{.RedirectHost}}.</small></p>
{{end}}
</main>
</body>
</html>
`))

package server

import (
	"net/http"
	"time"
)

// cookie returns an HttpOnly, SameSite=Lax cookie on Path=/ with no Domain;
// on https it is Secure (and named with the __Host- prefix by the caller).
// A maxAge of zero deletes the cookie.
func (s *Server) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		Secure:   s.https,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge <= 0 {
		c.MaxAge = -1
	}
	return c
}

// strictCookie is cookie with SameSite=Strict, for the refresh cookies.
func (s *Server) strictCookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := s.cookie(name, value, maxAge)
	c.SameSite = http.SameSiteStrictMode
	return c
}

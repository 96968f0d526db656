package gatehouse

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits, in bytes, on the profile fields Gatehouse stores. Providers are
// outside our control; a 100 KB display name is cut, not stored.
const (
	MaxLoginLen    = 100
	MaxNameLen     = 256
	MaxCompanyLen  = 256
	MaxLocationLen = 256
	MaxEmailLen    = 320
	MaxPictureLen  = 2048
)

// Normalize makes p safe to store and to show, identically on every
// backend: invalid UTF-8 becomes U+FFFD; control characters (NUL included,
// which PostgreSQL cannot store in text) and format characters (Unicode
// category Cf: bidirectional overrides and isolates, zero-width spaces and
// joiners, soft hyphens), which can make a name or login display as
// another, are removed; surrounding space is trimmed; each field is cut to
// its limit on a character boundary; an empty field becomes nil; and a
// picture that is not an absolute http or https URL is dropped.
//
// An email that cleaning changed in any way is no longer the address the
// provider vouched for: EmailVerified becomes false.
func (p *Profile) Normalize() {
	p.Login = clean(p.Login, MaxLoginLen)
	p.Name = clean(p.Name, MaxNameLen)
	p.Company = clean(p.Company, MaxCompanyLen)
	p.Location = clean(p.Location, MaxLocationLen)
	email := p.Email
	p.Email = clean(p.Email, MaxEmailLen)
	p.Picture = clean(p.Picture, MaxPictureLen)
	if p.Email == nil || *p.Email != *email {
		p.EmailVerified = false
	}
	if p.Picture != nil {
		u, err := url.Parse(*p.Picture)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			p.Picture = nil
		}
	}
}

// CleanText is the cleaning Normalize applies to each profile field, for
// other text from outside (a User-Agent header): it returns "" for text
// that cleans to nothing.
func CleanText(s string, limit int) string {
	if v := clean(&s, limit); v != nil {
		return *v
	}
	return ""
}

func clean(s *string, limit int) *string {
	if s == nil {
		return nil
	}
	v := strings.ToValidUTF8(*s, "\uFFFD")
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, v)
	v = strings.TrimSpace(v)
	if len(v) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	if v == "" {
		return nil
	}
	return &v
}

// Package devlogintest plays the person in front of the development login
// page, for end-to-end tests of the login flow.
package devlogintest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
)

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// Approve opens authURL (the dev provider's authorize URL that Gatehouse
// handed out) with client, submits the form with action "allow" or "deny"
// and the given name and email, and returns the query of the redirect back
// to the app: code and state, or error and state. The client must not
// follow redirects.
func Approve(client *http.Client, authURL, action, name, email string) (url.Values, error) {
	resp, err := client.Get(authURL)
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := requestField.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("dev authorize page: HTTP %d: %s", resp.StatusCode, page)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	form := url.Values{"request": {string(m[1])}, "name": {name}, "email": {email}, "email_verified": {"1"}, "action": {action}}
	// The page's form has no action: it posts to the page's own URL, which
	// behind a proxy carries the proxy's path prefix.
	resp, err = client.PostForm(u.Scheme+"://"+u.Host+u.Path, form)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		return nil, fmt.Errorf("dev authorize form: HTTP %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query(), nil
}

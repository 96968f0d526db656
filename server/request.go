package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// MaxAuthorizeBody caps the body of POST /auth/{provider}/authorize.
const MaxAuthorizeBody = 16 << 10

// Limits on the fields of an authorize request.
const (
	maxCodeLen  = 2048
	maxErrorLen = 64
)

// authorizeRequest is what the single-page app forwards from the provider's
// redirect: the code and state, or the provider's error.
type authorizeRequest struct {
	Code  string
	State string
	// Error is the provider's error code, when the provider redirected
	// with one instead of a code.
	Error string
}

// parseAuthorizeRequest reads the request body as a JSON object with string
// members, refusing other content types, bodies over MaxAuthorizeBody,
// duplicate members, and values that are not strings.
func parseAuthorizeRequest(w http.ResponseWriter, r *http.Request) (*authorizeRequest, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, gatehouse.Errorf(gatehouse.EUnsupportedMediaType, "send the request body as application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAuthorizeBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, gatehouse.Errorf(gatehouse.ERequestTooLarge, "the request body is too large")
		}
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "could not read the request body")
	}
	return decodeAuthorizeRequest(body)
}

// decodeAuthorizeRequest parses and checks an authorize request body.
func decodeAuthorizeRequest(body []byte) (*authorizeRequest, error) {
	fields, err := decodeStringObject(body)
	if err != nil {
		return nil, err
	}
	req := &authorizeRequest{Code: fields["code"], State: fields["state"], Error: fields["error"]}
	if strings.TrimSpace(req.State) == "" {
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "state is required")
	}
	if req.Error != "" {
		if len(req.Error) > maxErrorLen || !isToken(req.Error) {
			return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "malformed error")
		}
		return req, nil
	}
	switch {
	case strings.TrimSpace(req.Code) == "":
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "code is required")
	case len(req.Code) > maxCodeLen:
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "code is too long")
	case !isVSChars(req.Code):
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "code has characters an authorization code cannot have")
	}
	return req, nil
}

// decodeStringObject decodes a JSON object, keeping its string members and
// skipping members it does not know. It refuses duplicate names, non-string
// values for the names it knows, and anything after the object.
func decodeStringObject(body []byte) (map[string]string, error) {
	bad := func(msg string) error { return gatehouse.Errorf(gatehouse.EInvalidRequest, "%s", msg) }
	d := json.NewDecoder(strings.NewReader(string(body)))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, bad("the request body must be a JSON object")
	}
	seen := map[string]bool{}
	out := map[string]string{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, bad("the request body is not valid JSON")
		}
		name := t.(string)
		if seen[name] {
			return nil, bad("duplicate member " + jsonQuote(name))
		}
		seen[name] = true
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, bad("the request body is not valid JSON")
		}
		switch name {
		case "code", "state", "error", "error_description", "iss":
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, bad(jsonQuote(name) + " must be a string")
			}
			out[name] = v
		}
	}
	if t, err := d.Token(); err != nil || t != json.Delim('}') {
		return nil, bad("the request body is not valid JSON")
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, bad("unexpected data after the JSON object")
	}
	return out, nil
}

func jsonQuote(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// isVSChars reports whether s is made of RFC 6749 VSCHAR (%x20-7E).
func isVSChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isToken reports whether s is an OAuth error code: %x20-21 / %x23-5B /
// %x5D-7E, minus space for our purposes.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

package token

import (
	"strings"

	"github.com/gatehouse/gatehouse"
)

// FromHeader returns the bearer token of an HTTP request, given the values
// of its Authorization header and its raw query string. The token is read
// from the header only (RFC 6750 section 2.1): a token in the query string
// or a form body is ignored, and sending one in the query as well as the
// header is a bad request.
//
// Its errors are *gatehouse.Error values: EUnauthorized when there is no
// Authorization header (the request carried no credentials),
// EInvalidRequest for a token in the query as well or more than one
// header, and EInvalidToken for a header that is not "Bearer" (in any case)
// followed by a space and a token.
func FromHeader(authorization []string, rawQuery string) (string, error) {
	// The raw query, not the parsed one: url.ParseQuery drops a pair that
	// contains a semicolon, which would hide "?access_token=…;".
	if strings.Contains(rawQuery, "access_token") && len(authorization) > 0 {
		return "", gatehouse.Errorf(gatehouse.EInvalidRequest, "send the access token in the Authorization header only")
	}
	switch len(authorization) {
	case 0:
		return "", gatehouse.Errorf(gatehouse.EUnauthorized, "an access token is required")
	case 1:
	default:
		return "", gatehouse.Errorf(gatehouse.EInvalidRequest, "more than one Authorization header")
	}
	scheme, tok, _ := strings.Cut(authorization[0], " ")
	tok = strings.Trim(tok, " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", gatehouse.Errorf(gatehouse.EInvalidToken, "expected a bearer token")
	}
	return tok, nil
}

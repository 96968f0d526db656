package devlogin

import (
	"net/http"
)

// Paths of the back-channel endpoints, under Prefix.
const (
	discoveryPath = "/.well-known/openid-configuration"
	tokenPath     = "/token"
	userinfoPath  = "/userinfo"
	jwksPath      = "/jwks"
)

// Client authentication methods (OpenID Connect Core 1.0, section 9) that
// the token endpoint accepts: handleToken reads the credentials from the
// Authorization header, or else from the form.
var tokenAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// discovery is the OpenID Provider Metadata (OpenID Connect Discovery 1.0,
// section 3).
type discovery struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	UserinfoEndpoint              string   `json:"userinfo_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	ScopesSupported               []string `json:"scopes_supported"`
	ResponseTypesSupported        []string `json:"response_types_supported"`
	GrantTypesSupported           []string `json:"grant_types_supported"`
	SubjectTypesSupported         []string `json:"subject_types_supported"`
	IDTokenSigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	ClaimsSupported               []string `json:"claims_supported"`
}

// discoveryDocument returns the metadata of this issuer: the authorization
// endpoint is the browser-facing page, every other endpoint is on the
// back-channel.
func (s *Server) discoveryDocument() discovery {
	return discovery{
		Issuer:                        s.Issuer(),
		AuthorizationEndpoint:         s.cfg.PublicURL + Prefix + "/authorize",
		TokenEndpoint:                 s.Issuer() + tokenPath,
		UserinfoEndpoint:              s.Issuer() + userinfoPath,
		JWKSURI:                       s.Issuer() + jwksPath,
		ScopesSupported:               []string{"openid", "profile", "email"},
		ResponseTypesSupported:        []string{"code"},
		GrantTypesSupported:           []string{"authorization_code"},
		SubjectTypesSupported:         []string{"public"},
		IDTokenSigningAlgs:            []string{string(idTokenAlg)},
		TokenEndpointAuthMethods:      tokenAuthMethods,
		CodeChallengeMethodsSupported: []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "azp", "exp", "iat", "nonce",
			"name", "preferred_username", "email", "email_verified"},
	}
}

// handleDiscovery serves the discovery document. It is served only
// through the back-channel.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.discoveryDocument())
}

// handleJWKS serves the public key that signs ID tokens. It is served only
// through the back-channel.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.idSigner.jwks)
}

package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/login"
)

// A user's linked provider accounts: GET /me/identities lists them, DELETE
// /me/identities/{provider}[/{subject}] unlinks one. Linking is a login
// (GET /auth/{provider}/login?link=1). Like DELETE /auth/sessions/{id},
// these need the access token in the Authorization header, which a
// cross-site page cannot send, and a state-changing request from an Origin
// that is not allowed is refused before it gets here (cors). The rules
// live in package login.

type identityInfo struct {
	Provider string `json:"provider"`
	// DisplayName is the provider's, for the user to recognise.
	DisplayName string `json:"display_name"`
	// Subject tells apart two accounts of one provider, to unlink one.
	Subject string `json:"subject"`
	// Login and Email are as the provider gave them at the last sign-in
	// or link.
	Login         *string   `json:"login"`
	Email         *string   `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	LinkedAt      time.Time `json:"linked_at"`
	LastUsedAt    time.Time `json:"last_used_at"`
}

func newIdentityInfo(l login.Linked) identityInfo {
	return identityInfo{Provider: l.Provider, DisplayName: l.DisplayName, Subject: l.Subject,
		Login: l.Login, Email: l.Email, EmailVerified: l.EmailVerified,
		LinkedAt: l.CreatedAt, LastUsedAt: l.UpdatedAt}
}

// linkedIdentity returns the user's identity (provider, subject) as
// stored, for the answer to the login that linked it.
func (s *Server) linkedIdentity(r *http.Request, userID, provider, subject string) (identityInfo, error) {
	list, err := s.logins.Identities(r.Context(), userID)
	if err != nil {
		return identityInfo{}, err
	}
	for _, l := range list {
		if l.Provider == provider && l.Subject == subject {
			return newIdentityInfo(l), nil
		}
	}
	// Unlinked between the link and this read.
	return identityInfo{}, errors.New("the linked identity is gone")
}

// handleIdentities lists the provider accounts of the access token's user.
func (s *Server) handleIdentities(w http.ResponseWriter, r *http.Request) {
	_, u, err := s.session(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	list, err := s.logins.Identities(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	out := make([]identityInfo, len(list))
	for i, l := range list {
		out[i] = newIdentityInfo(l)
	}
	writeJSON(w, http.StatusOK, map[string]any{"identities": out})
}

// handleUnlink unlinks one provider account of the access token's user,
// named by provider, or by provider and subject.
func (s *Server) handleUnlink(w http.ResponseWriter, r *http.Request) {
	_, u, err := s.session(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	provider, subject := r.PathValue("provider"), r.PathValue("subject")
	err = s.logins.Unlink(s.auditContext(r), u.ID, provider, subject)
	if err == nil || gatehouse.ErrorCode(err) == gatehouse.ELastIdentity {
		s.audit(r, "unlink", u.ID, "", err, "provider", provider, "subject", subject)
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

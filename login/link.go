package login

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse"
)

// link attaches ident to the user who started the login. An account that
// is another user's is refused, and so is a user who was disabled or
// deleted since the login started.
func (m *Manager) link(ctx context.Context, userID string, ident *gatehouse.Identity) (*gatehouse.User, error) {
	now := m.now()
	ctx = gatehouse.WithAudit(ctx, gatehouse.AuditEvent{Type: gatehouse.AuditIdentityLinked, Time: now,
		Detail: map[string]string{"provider": ident.Provider, "subject": ident.Subject}})
	user, err := m.store.LinkIdentity(ctx, userID, ident, now)
	switch {
	case errors.Is(err, gatehouse.ErrIdentityInUse):
		return nil, &gatehouse.Error{Code: gatehouse.EIdentityInUse,
			Message: "this account is linked to another user; unlink it there first", Err: err}
	case errors.Is(err, gatehouse.ErrInvalid):
		return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider returned an account id that cannot be stored", Err: err}
	case errors.Is(err, gatehouse.ErrDisabled), errors.Is(err, gatehouse.ErrNotFound):
		return nil, &gatehouse.Error{Code: gatehouse.EAccessDenied, Message: "the user who started the link is disabled or gone", Err: err}
	case err != nil:
		return nil, err
	}
	return user, nil
}

// Linked is one of a user's identities, as the user sees it.
type Linked struct {
	*gatehouse.Identity
	// DisplayName is the provider's display name, or its name if it is
	// no longer configured.
	DisplayName string
}

// Identities returns the user's identities, oldest first.
func (m *Manager) Identities(ctx context.Context, userID string) ([]Linked, error) {
	idents, err := m.store.Identities(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Linked, len(idents))
	for i, ident := range idents {
		out[i] = Linked{Identity: ident, DisplayName: ident.Provider}
		if p, ok := m.byName[ident.Provider]; ok {
			out[i].DisplayName = p.DisplayName
		}
	}
	return out, nil
}

// Unlink removes the user's identity at provider with the given subject,
// or, for subject "", their one identity at provider (EInvalidRequest if
// they have several there). It refuses the user's last identity
// (ELastIdentity): without one, they could not sign in again.
func (m *Manager) Unlink(ctx context.Context, userID, provider, subject string) error {
	if subject == "" {
		idents, err := m.store.Identities(ctx, userID)
		if err != nil {
			return err
		}
		for _, ident := range idents {
			if ident.Provider != provider {
				continue
			}
			if subject != "" {
				return gatehouse.Errorf(gatehouse.EInvalidRequest, "more than one account of this provider is linked; name the one to unlink")
			}
			subject = ident.Subject
		}
		if subject == "" {
			return gatehouse.Errorf(gatehouse.ENotFound, "no such linked account")
		}
	}
	actx := gatehouse.WithAudit(ctx, gatehouse.AuditEvent{Type: gatehouse.AuditIdentityUnlinked, Time: m.now(),
		Detail: map[string]string{"provider": provider, "subject": subject}})
	err := m.store.UnlinkIdentity(actx, userID, provider, subject)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return gatehouse.Errorf(gatehouse.ENotFound, "no such linked account")
	case errors.Is(err, gatehouse.ErrLastIdentity):
		return &gatehouse.Error{Code: gatehouse.ELastIdentity,
			Message: "this is the last account you can sign in with; link another before unlinking it", Err: err}
	}
	return err
}

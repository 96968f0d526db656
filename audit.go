package gatehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit event types: what an AuditEvent records.
const (
	// AuditLogin is a sign-in that started a session. Detail: provider,
	// subject, new_user ("true" for a user the sign-in created).
	AuditLogin = "login"
	// AuditLoginFailed is a login that was refused or failed once the
	// client was within its rate limit. Detail: provider, code (the error
	// code answered), and subject when the provider vouched for one.
	AuditLoginFailed = "login_failed"
	// AuditRefreshReuse is a retired refresh token presented again, which
	// ended its session. Detail: during ("refresh" or "logout").
	AuditRefreshReuse = "refresh_reuse"
	// AuditLogout ends one session with its refresh token.
	AuditLogout = "logout"
	// AuditLogoutGlobal ends every session of the user.
	AuditLogoutGlobal = "logout_global"
	// AuditSessionEnded is a session the user ended from their list.
	AuditSessionEnded = "session_ended"
	// AuditUserDisabled, AuditUserEnabled and AuditUserDeleted are an
	// operator's changes to an account.
	AuditUserDisabled = "user_disabled"
	AuditUserEnabled  = "user_enabled"
	AuditUserDeleted  = "user_deleted"
	// AuditIdentityLinked and AuditIdentityUnlinked are a provider account
	// attached to or removed from a user. Detail: provider, subject.
	AuditIdentityLinked   = "identity_linked"
	AuditIdentityUnlinked = "identity_unlinked"
	// AuditKeyRotated and AuditKeyRevoked are changes to the signing keys.
	// Detail: kid (the new key, or the revoked one).
	AuditKeyRotated = "key_rotated"
	AuditKeyRevoked = "key_revoked"
	// AuditAdminAction is an action through the admin API; Actor names the
	// admin key. Detail: action.
	AuditAdminAction = "admin_action"
)

// Bounds of an AuditEvent as stored. A stranger can make Gatehouse write
// failed-login events, so each is small: the rate limits on finishing a
// login bound how many there are.
const (
	MaxAuditUserAgent = 256  // bytes of AuditEvent.UserAgent kept
	MaxAuditDetail    = 1024 // bytes of AuditEvent.Detail as JSON
	maxAuditValue     = 96   // bytes of one detail value kept
	maxAuditKeys      = 8    // detail keys kept
	maxAuditKey       = 24   // bytes of one detail key kept
)

// AuditEvent is one entry of the audit log: something that happened to an
// account, a session or the signing keys, who did it and from where. It
// never holds a token, a code, a state or a secret.
type AuditEvent struct {
	// ID is assigned by the store; with Time it orders events.
	ID   string
	Time time.Time
	// Type is one of the Audit… constants.
	Type string
	// UserID and SessionID are the user and session the event is about,
	// or "".
	UserID    string
	SessionID string
	// Actor is who acted when it was not the user: "cli" for the command
	// line, "admin:" and a key id for the admin API; "" for the user.
	Actor string
	// IP is the client's address under the trusted-proxy rule, and
	// UserAgent its User-Agent (at most MaxAuditUserAgent bytes); both ""
	// when no client asked (the command line, a background job).
	IP        string
	UserAgent string
	// Detail holds a few short facts of the event, by name (at most
	// MaxAuditDetail bytes as JSON).
	Detail map[string]string
}

// Clean makes ev storable: text valid UTF-8 without NUL bytes, the user
// agent and the detail cut to their bounds. Stores call it on every event
// they write, so an event is never refused for its size or content.
func (ev *AuditEvent) Clean() {
	for _, f := range []*string{&ev.Type, &ev.UserID, &ev.SessionID, &ev.Actor, &ev.IP, &ev.UserAgent} {
		*f = cleanText(*f, 256)
	}
	ev.UserAgent = cleanText(ev.UserAgent, MaxAuditUserAgent)
	if len(ev.Detail) == 0 {
		ev.Detail = nil
		return
	}
	keys := make([]string, 0, len(ev.Detail))
	for k := range ev.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	d := make(map[string]string, min(len(keys), maxAuditKeys))
	for _, k := range keys[:min(len(keys), maxAuditKeys)] {
		d[cleanText(k, maxAuditKey)] = cleanText(ev.Detail[k], maxAuditValue)
	}
	ev.Detail = d
	if b, _ := json.Marshal(d); len(b) > MaxAuditDetail {
		// Only escaped control characters can get here.
		ev.Detail = map[string]string{"truncated": "true"}
	}
}

// DetailJSON returns ev.Detail as a JSON object, "{}" for none.
func (ev *AuditEvent) DetailJSON() string {
	if len(ev.Detail) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(ev.Detail)
	return string(b)
}

// ParseAuditDetail is the inverse of DetailJSON.
func ParseAuditDetail(s string) (map[string]string, error) {
	var d map[string]string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}

// cleanText makes s valid UTF-8 without NUL bytes, at most n bytes long,
// cut at a character boundary.
func cleanText(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// AuditFilter selects audit events. Zero fields select everything.
type AuditFilter struct {
	UserID string
	Type   string
	// From (inclusive) and To (exclusive) bound the events' time.
	From, To time.Time
	// Cursor is AuditPage.Next of the previous page, or "" for the first.
	Cursor string
	// Limit is the most events a page holds: 1 to MaxAuditLimit, zero
	// means DefaultAuditLimit.
	Limit int
}

// Page sizes of AuditFilter.Limit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditPage is one page of audit events, newest first.
type AuditPage struct {
	Events []*AuditEvent
	// Next is the cursor of the following (older) page, or "" if this
	// is the last.
	Next string
}

// PageLimit returns f.Limit with its default applied, capped at
// MaxAuditLimit.
func (f *AuditFilter) PageLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultAuditLimit
	case f.Limit > MaxAuditLimit:
		return MaxAuditLimit
	}
	return f.Limit
}

// AuditCursor returns the cursor of the page that follows ev: the events
// older than it, by (Time, ID).
func AuditCursor(ev *AuditEvent) string {
	return strconv.FormatInt(ev.Time.UnixMicro(), 10) + "." + ev.ID
}

// ParseAuditCursor returns the time and id of a cursor from AuditCursor;
// a malformed cursor is an error wrapping ErrInvalid.
func ParseAuditCursor(c string) (time.Time, string, error) {
	us, id, ok := strings.Cut(c, ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || id == "" || CheckText(id) != nil {
		return time.Time{}, "", fmt.Errorf("malformed audit cursor: %w", ErrInvalid)
	}
	return time.UnixMicro(n).UTC(), id, nil
}

type auditKey struct{}

type auditValue struct {
	events func() []AuditEvent
	client [2]string // IP, user agent
}

// WithAudit returns a copy of ctx that carries events: the next store
// method called with it that writes writes them too, in the same
// transaction, and only if its change commits. Attach them to the context
// of the one call that makes the change they record.
func WithAudit(ctx context.Context, events ...AuditEvent) context.Context {
	return WithAuditFunc(ctx, func() []AuditEvent { return events })
}

// WithAuditFunc is WithAudit for events that depend on what the change
// finds: the store calls events inside its transaction, after an updater
// function (Store.UpdateSessionByToken, Store.UpdateSigningKeys) has
// returned, and writes what it returns. events may be called once per
// attempt of the transaction.
func WithAuditFunc(ctx context.Context, events func() []AuditEvent) context.Context {
	v := auditValue{events: events}
	if old, ok := ctx.Value(auditKey{}).(auditValue); ok {
		v.client = old.client
	}
	return context.WithValue(ctx, auditKey{}, v)
}

// WithAuditClient returns a copy of ctx that names the client a request
// came from; events written with it that name no client get ip and
// userAgent. It carries no events itself.
func WithAuditClient(ctx context.Context, ip, userAgent string) context.Context {
	v, _ := ctx.Value(auditKey{}).(auditValue)
	v.client = [2]string{ip, userAgent}
	return context.WithValue(ctx, auditKey{}, v)
}

// AuditEvents returns the events ctx carries for a store to write, cleaned,
// with what they leave empty filled in: the user and session the store
// method acted on (userID, sessionID; "" if none) and the client of
// WithAuditClient. Stores call it inside their transaction.
func AuditEvents(ctx context.Context, userID, sessionID string) []AuditEvent {
	v, ok := ctx.Value(auditKey{}).(auditValue)
	if !ok || v.events == nil {
		return nil
	}
	evs := slices.Clone(v.events())
	for i := range evs {
		ev := &evs[i]
		if ev.UserID == "" {
			ev.UserID = userID
		}
		if ev.SessionID == "" {
			ev.SessionID = sessionID
		}
		if ev.IP == "" && ev.UserAgent == "" {
			ev.IP, ev.UserAgent = v.client[0], v.client[1]
		}
		ev.Clean()
	}
	return evs
}

// AuditClient returns the client of WithAuditClient, or "", "".
func AuditClient(ctx context.Context) (ip, userAgent string) {
	v, _ := ctx.Value(auditKey{}).(auditValue)
	return v.client[0], v.client[1]
}

// Auditor is the part of a Store that keeps the audit log.
type Auditor interface {
	// AppendAudit writes ev on its own, for an event that records no
	// change (a failed login). The store assigns ev.ID.
	AppendAudit(ctx context.Context, ev AuditEvent) error

	// AuditEvents returns a page of the events f selects, newest first
	// by (Time, ID). A malformed cursor is ErrInvalid.
	AuditEvents(ctx context.Context, f AuditFilter) (*AuditPage, error)

	// DeleteAuditEventsBefore deletes at most limit events older than t
	// and reports how many it deleted.
	DeleteAuditEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error)
}

// HasAudit reports whether ctx carries events for a store to write, so
// that a store can skip a transaction a single statement does not need.
func HasAudit(ctx context.Context) bool {
	v, ok := ctx.Value(auditKey{}).(auditValue)
	return ok && v.events != nil
}

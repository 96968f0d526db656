package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// auditContext returns r's context naming r's client for the audit
// events the store writes with it: its address under the trusted-proxy
// rule and its User-Agent.
func (s *Server) auditContext(r *http.Request) context.Context {
	return gatehouse.WithAuditClient(r.Context(), s.clientIP(r), r.UserAgent())
}

// audit logs one structured audit event: what happened, to which user and
// session, from which client address, and whether it succeeded. Never a
// code, state or token.
func (s *Server) audit(r *http.Request, event, userID, sessionID string, err error, extra ...any) {
	attrs := append([]any{"event", event, "ip", s.clientIP(r)}, extra...)
	if userID != "" {
		attrs = append(attrs, "user_id", userID)
	}
	if sessionID != "" {
		attrs = append(attrs, "session_id", sessionID)
	}
	if err == nil {
		s.log.InfoContext(r.Context(), "audit", append(attrs, "result", "success")...)
		return
	}
	attrs = append(attrs, "result", "failure", "reason", gatehouse.ErrorCode(err))
	if e, ok := errors.AsType[*gatehouse.Error](err); ok && e.Err != nil {
		attrs = append(attrs, "cause", e.Err.Error())
	} else if !ok {
		attrs = append(attrs, "cause", err.Error())
	}
	s.log.WarnContext(r.Context(), "audit", attrs...)
}

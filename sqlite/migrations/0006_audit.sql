-- The audit log: what happened to accounts, sessions and signing keys.
-- Events outlive the users and sessions they name (no foreign keys), until
-- the retention deletes them. No token, code or secret is ever stored.
CREATE TABLE audit_events (
	id         TEXT PRIMARY KEY,
	time       INTEGER NOT NULL,
	type       TEXT NOT NULL,
	user_id    TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	actor      TEXT NOT NULL DEFAULT '',
	ip         TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT '{}'
) STRICT;
-- Pages are read newest first by (time, id), filtered by user or type.
CREATE INDEX audit_events_time ON audit_events (time, id);
CREATE INDEX audit_events_user_time ON audit_events (user_id, time, id) WHERE user_id <> '';
CREATE INDEX audit_events_type_time ON audit_events (type, time, id);

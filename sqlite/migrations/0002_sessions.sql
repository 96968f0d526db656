ALTER TABLE users ADD COLUMN disabled_at INTEGER;

CREATE TABLE sessions (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	secret          BLOB NOT NULL,
	current_hash    TEXT NOT NULL UNIQUE,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER NOT NULL,
	idle_expires_at INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	revoked_at      INTEGER,
	revoke_reason   TEXT NOT NULL DEFAULT '',
	user_agent      TEXT NOT NULL DEFAULT '',
	ip              TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE retired_refresh_tokens (
	hash       TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	retired_at INTEGER NOT NULL
) STRICT;
CREATE INDEX retired_refresh_tokens_session_id ON retired_refresh_tokens (session_id);

ALTER TABLE users ADD COLUMN disabled_at timestamptz;

CREATE TABLE sessions (
	id              text PRIMARY KEY,
	user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	secret          bytea NOT NULL,
	current_hash    text NOT NULL UNIQUE,
	created_at      timestamptz NOT NULL,
	last_used_at    timestamptz NOT NULL,
	idle_expires_at timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	revoked_at      timestamptz,
	revoke_reason   text NOT NULL DEFAULT '',
	user_agent      text NOT NULL DEFAULT '',
	ip              text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE retired_refresh_tokens (
	hash       text PRIMARY KEY,
	session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	retired_at timestamptz NOT NULL
);
CREATE INDEX retired_refresh_tokens_session_id ON retired_refresh_tokens (session_id);

CREATE TABLE users (
	id             TEXT PRIMARY KEY,
	login          TEXT,
	name           TEXT,
	company        TEXT,
	location       TEXT,
	email          TEXT,
	picture        TEXT,
	email_verified INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE identities (
	provider       TEXT NOT NULL,
	subject        TEXT NOT NULL,
	user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	login          TEXT,
	email          TEXT,
	email_verified INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	PRIMARY KEY (provider, subject)
) STRICT;
CREATE INDEX identities_user_id ON identities (user_id);

CREATE TABLE login_states (
	state_hash    TEXT PRIMARY KEY,
	binding_hash  TEXT NOT NULL,
	provider      TEXT NOT NULL,
	redirect_uri  TEXT NOT NULL,
	code_verifier TEXT NOT NULL,
	nonce         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX login_states_expires_at ON login_states (expires_at);

CREATE TABLE signing_keys (
	kid         TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	private_key BLOB NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id             text PRIMARY KEY,
	login          text,
	name           text,
	company        text,
	location       text,
	email          text,
	picture        text,
	email_verified boolean NOT NULL DEFAULT false,
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL
);

CREATE TABLE identities (
	provider       text NOT NULL,
	subject        text NOT NULL,
	user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	login          text,
	email          text,
	email_verified boolean NOT NULL DEFAULT false,
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL,
	PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_user_id ON identities (user_id);

CREATE TABLE login_states (
	state_hash    text PRIMARY KEY,
	binding_hash  text NOT NULL,
	provider      text NOT NULL,
	redirect_uri  text NOT NULL,
	code_verifier text NOT NULL,
	nonce         text NOT NULL,
	created_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL
);
CREATE INDEX login_states_expires_at ON login_states (expires_at);

CREATE TABLE signing_keys (
	kid         text PRIMARY KEY,
	algorithm   text NOT NULL,
	private_key bytea NOT NULL,
	created_at  timestamptz NOT NULL
);

-- Admin API keys: only their SHA-256 hashes are stored. A revoked key
-- stays, so that its name is not reused and audit lines keep meaning.
CREATE TABLE admin_keys (
	name         text PRIMARY KEY,
	hash         text NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz
);

-- Admin API keys: only their SHA-256 hashes are stored. A revoked key
-- stays, so that its name is not reused and audit lines keep meaning.
CREATE TABLE admin_keys (
	name         TEXT PRIMARY KEY,
	hash         TEXT NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
) STRICT;

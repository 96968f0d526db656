-- The client that started a login, for the cap on pending logins per
-- client, and the indexes that cap and the per-browser replacement use.
ALTER TABLE login_states ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX login_states_client ON login_states (client, expires_at);
CREATE INDEX login_states_binding_hash ON login_states (binding_hash);

-- Rotations count a session's refreshes, so that its retired token
-- hashes are pruned every few rotations rather than on each.
ALTER TABLE sessions ADD COLUMN rotations INTEGER NOT NULL DEFAULT 0;

-- Background cleanup finds ended sessions through these, in batches.
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at);

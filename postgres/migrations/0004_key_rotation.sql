-- Signing keys rotate: a key is published before it signs (activates_at),
-- stops signing when its successor activates (retires_at), and an operator
-- can revoke it (revoked_at). Keys stored before rotation existed signed
-- from their creation.
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys ALTER COLUMN activates_at SET NOT NULL;
ALTER TABLE signing_keys ADD COLUMN retires_at timestamptz;
ALTER TABLE signing_keys ADD COLUMN revoked_at timestamptz;

-- A login that a signed-in user started to link another provider account
-- to theirs names that user; deleting the user deletes their pending links.
ALTER TABLE login_states ADD COLUMN link_user_id text REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX login_states_link_user_id ON login_states (link_user_id) WHERE link_user_id IS NOT NULL;

-- The email rule compares the verified emails of identities, ASCII letters
-- lower-cased (gatehouse.EmailKey; translate folds exactly those, whatever
-- the database's locale). An address the provider did not vouch for is
-- NULL here and matches nothing.
ALTER TABLE identities ADD COLUMN verified_email text;
UPDATE identities SET verified_email = translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
	WHERE email_verified AND email IS NOT NULL;
CREATE INDEX identities_verified_email ON identities (verified_email) WHERE verified_email IS NOT NULL;

-- Sign in with waxseal: redirect URIs and client kinds, the issuer
-- (single sign-on) session a session was started from, and authorization
-- codes, kept only as SHA-256 digests. A used code stays until it is
-- pruned, so that a second use can end what the first started.

ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';

ALTER TABLE sessions ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_parent_id ON sessions (parent_id) WHERE parent_id <> '';

CREATE TABLE auth_codes (
	digest         BLOB PRIMARY KEY,
	client_id      TEXT NOT NULL,
	redirect_uri   TEXT NOT NULL,
	code_challenge TEXT NOT NULL,
	scope          TEXT NOT NULL,
	nonce          TEXT NOT NULL,
	user_id        TEXT NOT NULL,
	parent_id      TEXT NOT NULL,
	auth_time      INTEGER NOT NULL,
	created        INTEGER NOT NULL,
	expires        INTEGER NOT NULL,
	used           INTEGER,
	session_id     TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX auth_codes_expires ON auth_codes (expires);

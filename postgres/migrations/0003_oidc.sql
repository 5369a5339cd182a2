-- Sign in with waxseal: redirect URIs and client kinds, the issuer
-- (single sign-on) session a session was started from, and authorization
-- codes, kept only as SHA-256 digests. A used code stays until it is
-- pruned, so that a second use can end what the first started.

ALTER TABLE clients ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN public boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN id_token_alg text NOT NULL DEFAULT '';

ALTER TABLE sessions ADD COLUMN parent_id text NOT NULL DEFAULT '';
CREATE INDEX sessions_parent_id ON sessions (parent_id) WHERE parent_id <> '';

CREATE TABLE auth_codes (
	digest         bytea PRIMARY KEY,
	client_id      text NOT NULL,
	redirect_uri   text NOT NULL,
	code_challenge text NOT NULL,
	scope          text NOT NULL,
	nonce          text NOT NULL,
	user_id        text NOT NULL,
	parent_id      text NOT NULL,
	auth_time      timestamptz NOT NULL,
	created        timestamptz NOT NULL,
	expires        timestamptz NOT NULL,
	used           timestamptz,
	session_id     text NOT NULL DEFAULT ''
);
CREATE INDEX auth_codes_expires ON auth_codes (expires);

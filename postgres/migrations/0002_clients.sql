-- A client's secret is kept only as the SHA-256 digest of its value. The
-- previous digest and its expiry are NULL unless a rotated secret is still
-- accepted.

CREATE TABLE clients (
	id                      text PRIMARY KEY,
	name                    text NOT NULL,
	secret_digest           bytea NOT NULL,
	previous_secret_digest  bytea,
	previous_secret_expires timestamptz,
	grant_types             text[] NOT NULL DEFAULT '{}',
	scopes                  text[] NOT NULL DEFAULT '{}',
	roles                   text[] NOT NULL DEFAULT '{}',
	created                 timestamptz NOT NULL,
	updated                 timestamptz NOT NULL
);

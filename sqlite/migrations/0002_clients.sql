-- A client's secret is kept only as the SHA-256 digest of its value. The
-- previous digest and its expiry are NULL unless a rotated secret is still
-- accepted. Grant types, scopes and roles are JSON arrays of strings.

CREATE TABLE clients (
	id                      TEXT PRIMARY KEY,
	name                    TEXT NOT NULL,
	secret_digest           BLOB NOT NULL,
	previous_secret_digest  BLOB,
	previous_secret_expires INTEGER,
	grant_types             TEXT NOT NULL DEFAULT '[]',
	scopes                  TEXT NOT NULL DEFAULT '[]',
	roles                   TEXT NOT NULL DEFAULT '[]',
	created                 INTEGER NOT NULL,
	updated                 INTEGER NOT NULL
) STRICT;

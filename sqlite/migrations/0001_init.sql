-- Times are integer unix microseconds, UTC; NULL stands for the zero time.
-- Roles are a JSON array of strings.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	roles         TEXT NOT NULL DEFAULT '[]',
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	client_id  TEXT NOT NULL,
	scope      TEXT NOT NULL,
	created    INTEGER NOT NULL,
	last_used  INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	ended      INTEGER,
	end_reason TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL,
	ip         TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);

-- A refresh token is kept only as the SHA-256 digest of its value.
CREATE TABLE refresh_tokens (
	digest           BLOB PRIMARY KEY,
	session_id       TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	created          INTEGER NOT NULL,
	rotated          INTEGER,
	successor_digest BLOB,
	successor_sealed BLOB
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE revocations (
	cursor     INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL,
	value      TEXT NOT NULL,
	not_before INTEGER,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_expires ON revocations (expires);

-- The last cursor handed out. Appending transactions update this one row
-- first, which orders their commits; it only grows, so a cursor is never
-- handed out twice, even after the entries above it were pruned.
CREATE TABLE revocation_cursor (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	last INTEGER NOT NULL
) STRICT;
INSERT INTO revocation_cursor (id, last) VALUES (1, 0);

CREATE TABLE audit (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	time       INTEGER NOT NULL,
	type       TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	ip         TEXT NOT NULL,
	detail     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_user_id ON audit (user_id, id);
CREATE INDEX audit_type ON audit (type, id);

-- The private key is only ever stored sealed under the master key.
CREATE TABLE signing_keys (
	id          TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	created     INTEGER NOT NULL,
	activates   INTEGER,
	deactivates INTEGER,
	retires     INTEGER,
	compromised INTEGER,
	sealed      BLOB NOT NULL
) STRICT;

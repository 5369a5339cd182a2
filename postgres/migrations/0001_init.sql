-- NULL stands for the zero time.

CREATE TABLE users (
	id            text PRIMARY KEY,
	name          text NOT NULL UNIQUE,
	password_hash text NOT NULL,
	roles         text[] NOT NULL DEFAULT '{}',
	disabled      boolean NOT NULL DEFAULT false,
	created       timestamptz NOT NULL,
	updated       timestamptz NOT NULL
);

CREATE TABLE sessions (
	id         text PRIMARY KEY,
	user_id    text NOT NULL REFERENCES users (id),
	client_id  text NOT NULL,
	scope      text NOT NULL,
	created    timestamptz NOT NULL,
	last_used  timestamptz NOT NULL,
	expires    timestamptz NOT NULL,
	ended      timestamptz,
	end_reason text NOT NULL DEFAULT '',
	user_agent text NOT NULL,
	ip         text NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- A refresh token is kept only as the SHA-256 digest of its value.
CREATE TABLE refresh_tokens (
	digest           bytea PRIMARY KEY,
	session_id       text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	created          timestamptz NOT NULL,
	rotated          timestamptz,
	successor_digest bytea,
	successor_sealed bytea
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE revocations (
	cursor     bigint PRIMARY KEY,
	kind       text NOT NULL,
	value      text NOT NULL,
	not_before timestamptz,
	created    timestamptz NOT NULL,
	expires    timestamptz NOT NULL
);
CREATE INDEX revocations_expires ON revocations (expires);

-- The last cursor handed out. Appending transactions update this one row
-- first and hold its lock until they end, so they commit in cursor order:
-- a bigserial would let cursor 12 become visible before 11. It only grows,
-- so a cursor is never handed out twice, even after pruning.
CREATE TABLE revocation_cursor (
	id   integer PRIMARY KEY CHECK (id = 1),
	last bigint NOT NULL
);
INSERT INTO revocation_cursor (id, last) VALUES (1, 0);

CREATE TABLE audit (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time       timestamptz NOT NULL,
	type       text NOT NULL,
	user_id    text NOT NULL,
	session_id text NOT NULL,
	client_id  text NOT NULL,
	ip         text NOT NULL,
	detail     text NOT NULL
);
CREATE INDEX audit_user_id ON audit (user_id, id);
CREATE INDEX audit_type ON audit (type, id);

-- The private key is only ever stored sealed under the master key.
CREATE TABLE signing_keys (
	id          text PRIMARY KEY,
	algorithm   text NOT NULL,
	created     timestamptz NOT NULL,
	activates   timestamptz,
	deactivates timestamptz,
	retires     timestamptz,
	compromised timestamptz,
	sealed      bytea NOT NULL
);

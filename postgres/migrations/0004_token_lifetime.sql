-- The longest access-token lifetime any issuer on this database has
-- announced, in microseconds: every revocation entry is kept at least this
-- long (plus the largest leeway), whoever writes it.

ALTER TABLE revocation_cursor ADD COLUMN max_token_ttl_us BIGINT NOT NULL DEFAULT 0;

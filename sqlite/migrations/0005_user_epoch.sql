-- A user's credentials epoch: it moves with every password change, reset,
-- disable and revocation of the user, in the transaction that ends the
-- user's sessions. A login starts a session only if the epoch it checked
-- the password against is still the user's.

ALTER TABLE users ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

package cli

// help holds what a command's --help says about it beyond its flags: what
// it reads, what it changes, and what it does not do.
var help = map[string]string{
	"serve": `Runs the issuer. On the first start with a new SQLite database it creates
the database, a master key file beside it and the first signing key. With
PostgreSQL the master key must exist first: see 'waxseal keys init-master'.`,
	"migrate": `Creates the database (a SQLite file, or the tables in a PostgreSQL
database) or brings its schema up to date. Other commands, except serve,
never create a database.`,
	"proxy": `Checks the bearer token of every request and forwards the valid ones to
--upstream. Starts even when the issuer is down: until the first key set and
revocation catch-up arrive, requests and /.waxseal/readyz get 503, and the
proxy retries with backoff, logging why.`,
	"user add": `Adds a user. Without --password-stdin a strong password is generated and
printed on standard output.`,
	"user passwd": `Reads the new password from the first line of standard input (a pipe or
a file; nothing is prompted) and sets it; every session of the user ends.
Example: printf '%s\n' "$NEW_PASSWORD" | waxseal user passwd alice`,
	"user disable": `Disables a user: every session ends and every token is revoked.`,
	"user roles":   `Prints the user's roles; with ROLEs, replaces them.`,
	"keys init-master": `Creates a master key: 32 random bytes, base64 on one line, in a new file
of mode 0600 (never replacing one). The master key seals the signing keys
in the database; every issuer instance of one database needs the same key.
With --print the key goes to standard output instead, for a secret store
(set it as WAXSEAL_MASTER_KEY). A key made by hand works too:
  (umask 077; head -c 32 /dev/urandom | base64 > waxseal.key)`,
	"token verify": `Verifies a token as a service would: signature, type, issuer, expiry and,
with --audience, audience. Unless keys come from --jwks-file it also
catches up once with the issuer's revocation feed and reports whether the
token is revoked; with --jwks-file revocation is not checked, and it says so.`,
	"token decode": `Prints a token's header and claims without checking anything.`,
	"audit":        `Prints the audit log, newest first, with user names beside their IDs.`,
	"healthcheck": `Asks --url and exits 0 when it answers 200, 1 otherwise. For HEALTHCHECK
and exec probes in images without a shell.`,
	"version": `Prints the module version, the commit and the Go version the binary was built from.`,
}

package cli_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/postgres"
)

// The tests in this file are an operator's usual mistakes and questions,
// asked of the real binary.

// runIn runs a waxseal command in dir and returns its exit code and output.
func runIn(t *testing.T, dir, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(waxsealBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// mustIn is runIn for a command that must succeed.
func mustIn(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := runIn(t, dir, stdin, args...)
	if code != 0 {
		t.Fatalf("waxseal %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestNoCommandButServeAndMigrateCreatesADatabase: run in the wrong
// directory, every command that reads the database fails, naming the path
// and the command that creates one, and leaves no file behind.
func TestNoCommandButServeAndMigrateCreatesADatabase(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "waxseal.db")
	for _, args := range [][]string{
		{"user", "list"}, {"audit"}, {"client", "list"}, {"keys", "list"}, {"keys", "generate"},
		{"revoke", "user", "alice"}, {"user", "add", "alice"}, {"user", "sessions", "alice"},
	} {
		code, out, errOut := runIn(t, dir, "", args...)
		if code != 1 || out != "" || !strings.Contains(errOut, abs) || !strings.Contains(errOut, "waxseal migrate") {
			t.Errorf("waxseal %s: exit %d, stdout %q, stderr %q; want exit 1 naming %s and 'waxseal migrate'", strings.Join(args, " "), code, out, errOut, abs)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("waxseal %s left %v behind", strings.Join(args, " "), entries)
		}
	}
	mustIn(t, dir, "", "migrate")
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("migrate made no database: %v", err)
	}
	if out := mustIn(t, dir, "", "user", "list"); !strings.HasPrefix(out, "NAME") {
		t.Fatalf("user list on the new database: %q", out)
	}
}

// TestNoCommandButServeAndMigrateCreatesASchema: on PostgreSQL, a command
// other than serve and migrate, given an empty schema, fails naming the
// database (its password masked) and 'waxseal migrate --database', and
// creates no table; given a schema that lacks a migration of this binary,
// it says so and points at migrate instead of migrating.
func TestNoCommandButServeAndMigrateCreatesASchema(t *testing.T) {
	base := pgtest.URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	schema := strings.ToLower(u.Query().Get("search_path"))   // unquoted, as pgtest creates it
	u.User = url.UserPassword(u.User.Username(), "s3cr3t-pw") // trust ignores it
	dbURL := u.String()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"user", "list"}, {"audit"}, {"client", "list"}, {"keys", "list", "--master-key-file", "k"},
		{"keys", "generate", "--master-key-file", "k"}, {"revoke", "user", "alice"}, {"user", "add", "alice"},
	} {
		args = slices.Insert(args, min(2, len(args)), "--database", dbURL) // flags before the arguments
		code, out, errOut := runIn(t, dir, "", args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "no waxseal tables") ||
			!strings.Contains(errOut, "waxseal migrate --database") || !strings.Contains(strings.ToLower(errOut), schema) ||
			strings.Contains(errOut, "s3cr3t-pw") {
			t.Errorf("waxseal %s: exit %d, stdout %q, stderr %q; want exit 1 naming the schema and 'waxseal migrate --database', no password",
				args[0], code, out, errOut)
		}
		if tables := pgTables(t, base, schema); len(tables) != 0 {
			t.Fatalf("waxseal %s created %v", args[0], tables)
		}
	}

	mustIn(t, dir, "", "migrate", "--database", dbURL)
	if out := mustIn(t, dir, "", "user", "list", "--database", dbURL); !strings.HasPrefix(out, "NAME") {
		t.Fatalf("user list on the migrated schema: %q", out)
	}
	// A schema an older binary migrated: the newest migration missing (only
	// its record is deleted, so that applying it would fail loudly).
	recorded := pgCount(t, base, `SELECT count(*) FROM schema_migrations`)
	pgExec(t, base, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`)
	code, out, errOut := runIn(t, dir, "", "user", "list", "--database", dbURL)
	if code != 1 || out != "" || !strings.Contains(errOut, "older than this waxseal") || !strings.Contains(errOut, "waxseal migrate --database") {
		t.Fatalf("user list on an older schema: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if n := pgCount(t, base, `SELECT count(*) FROM schema_migrations`); n != recorded-1 {
		t.Fatalf("user list migrated the older schema: %d migrations recorded", n)
	}
}

// TestOlderSQLiteSchemaIsNotMigrated: a SQLite database that lacks a
// migration of this binary is migrated only by migrate (or serve); other
// commands say so and point at migrate.
func TestOlderSQLiteSchemaIsNotMigrated(t *testing.T) {
	dir := t.TempDir()
	mustIn(t, dir, "", "migrate")
	db, err := sql.Open("sqlite", filepath.Join(dir, "waxseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var recorded, n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runIn(t, dir, "", "user", "list")
	if code != 1 || out != "" || !strings.Contains(errOut, "older than this waxseal") || !strings.Contains(errOut, "waxseal migrate --database sqlite:waxseal.db") {
		t.Fatalf("user list on an older schema: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != recorded-1 {
		t.Fatalf("user list migrated the older schema: %d migrations recorded (%v)", n, err)
	}
}

// pgTables lists the tables of schema.
func pgTables(t *testing.T, url, schema string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func pgExec(t *testing.T, url, query string) {
	t.Helper()
	pgCount(t, url, query+` RETURNING 0`)
}

func pgCount(t *testing.T, url, query string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMistypedMasterKeyFileCreatesNoKey: once the database holds signing
// keys, a master key file that is not there is an error, and no new key is
// made; a key is made with a new database or by keys init-master only.
func TestMistypedMasterKeyFileCreatesNoKey(t *testing.T) {
	dir := t.TempDir()
	mustIn(t, dir, "", "migrate")
	if _, err := os.Stat(filepath.Join(dir, "waxseal.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("migrate made a master key: %v", err)
	}
	mustIn(t, dir, "", "keys", "generate") // a new database: the key is made beside it
	if _, err := os.Stat(filepath.Join(dir, "waxseal.key")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--master-key-file", "waxsael.key"},
		{"keys", "list", "--master-key-file", "waxsael.key"},
		{"keys", "rotate", "--master-key-file", "waxsael.key"},
	} {
		code, _, errOut := runIn(t, dir, "", args...)
		if code != 1 || !strings.Contains(errOut, "waxsael.key does not exist") || strings.Contains(errOut, "created") {
			t.Errorf("waxseal %s: exit %d, %q", strings.Join(args, " "), code, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "waxsael.key")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("waxseal %s created the mistyped key file", strings.Join(args, " "))
		}
	}

	// keys init-master: a new file of mode 0600, never replaced; or the
	// key printed for a secret store, usable as WAXSEAL_MASTER_KEY.
	other := t.TempDir()
	mustIn(t, other, "", "keys", "init-master", "--master-key-file", "k")
	st, err := os.Stat(filepath.Join(other, "k"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("init-master: %v %v", st, err)
	}
	before, _ := os.ReadFile(filepath.Join(other, "k"))
	if code, _, _ := runIn(t, other, "", "keys", "init-master", "--master-key-file", "k"); code != 1 {
		t.Fatalf("init-master over an existing file: exit %d", code)
	}
	if after, _ := os.ReadFile(filepath.Join(other, "k")); !bytes.Equal(before, after) {
		t.Fatal("init-master replaced a key file")
	}
	printed := strings.TrimSpace(mustIn(t, other, "", "keys", "init-master", "--print"))
	if len(printed) != 44 {
		t.Fatalf("init-master --print: %q", printed)
	}
	mustIn(t, other, "", "migrate")
	cmd := exec.Command(waxsealBinary(t), "keys", "generate")
	cmd.Dir, cmd.Env = other, append(childEnv(), "WAXSEAL_MASTER_KEY="+printed)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keys generate with the printed key: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(other, "waxseal.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a master key file was made although WAXSEAL_MASTER_KEY was set")
	}
}

// login gets an access token for user from the issuer at base.
func login(t *testing.T, base, user, password string) string {
	t.Helper()
	a, err := send(http.DefaultClient, http.MethodPost, base+"/token",
		url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}, "")
	if err != nil || a.Status != http.StatusOK || a.str("access_token") == "" {
		t.Fatalf("login: %v %d %s", err, a.Status, a.Raw)
	}
	return a.str("access_token")
}

// TestTokenVerifySaysWhatItChecked: with --issuer, verify catches up with
// the revocation feed and refuses a token revoked by logout; it lists what
// it checked, and says what it did not.
func TestTokenVerifySaysWhatItChecked(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "waxseal.db")
	mustIn(t, dir, "", "migrate", "--database", db)
	const pw = "quince lantern meridian 81"
	mustIn(t, dir, pw+"\n", "user", "add", "--database", db, "--password-stdin", "alice")
	srv := startServer(t, "issuer", "--database", db, "--audience", "notes")
	access := login(t, srv.URL, "alice", pw)

	out := mustIn(t, dir, "", "token", "verify", "--issuer", srv.URL, "--audience", "notes", access)
	for _, want := range []string{"VALID", "signature", "issuer", "audience    lists notes", "expiry", "revocation  not revoked (revocation feed caught up to cursor"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	_, out, errOut := runIn(t, dir, "", "token", "verify", "--issuer", srv.URL, access)
	if !strings.Contains(out, "audience    NOT CHECKED") || !strings.Contains(errOut, "audience was not checked") {
		t.Errorf("without --audience: %s%s", out, errOut)
	}
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(mustIn(t, dir, "", "keys", "jwks", "--database", db)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, errOut = runIn(t, dir, "", "token", "verify", "--issuer", srv.URL, "--audience", "notes", "--jwks-file", jwks, access)
	if !strings.Contains(out, "revocation  NOT CHECKED") || !strings.Contains(errOut, "revocation was not checked") {
		t.Errorf("with --jwks-file: %s%s", out, errOut)
	}

	if a, err := send(http.DefaultClient, http.MethodPost, srv.URL+"/v1/logout", nil, access); err != nil || a.Status/100 != 2 {
		t.Fatalf("logout: %v %d %s", err, a.Status, a.Raw)
	}
	code, out, errOut := runIn(t, dir, "", "token", "verify", "--issuer", srv.URL, "--audience", "notes", access)
	if code != 1 || strings.Contains(out, "VALID") || !strings.Contains(errOut, "revoked") {
		t.Fatalf("verify after logout: exit %d\n%s%s", code, out, errOut)
	}

	// An issuer that does not answer: nothing is called valid.
	srv.kill(t)
	code, out, errOut = runIn(t, dir, "", "token", "verify", "--issuer", srv.URL, "--timeout", "1s", access)
	if code != 1 || out != "" || !strings.Contains(errOut, "nothing verified") {
		t.Fatalf("verify with the issuer down: exit %d\n%s%s", code, out, errOut)
	}
}

// freeAddr returns a loopback address nothing listens on, for now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// get returns the status and body of a GET.
func get(t *testing.T, u, bearer string) (int, string) {
	t.Helper()
	a, err := send(http.DefaultClient, http.MethodGet, u, nil, bearer)
	if err != nil {
		t.Fatal(err)
	}
	return a.Status, a.Raw
}

// TestProxyStartsWhileIssuerIsDown: the proxy starts with the issuer
// unreachable, answers 503 and says why on its readiness probe, and serves
// once the issuer is up.
func TestProxyStartsWhileIssuerIsDown(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "waxseal.db")
	issuerAddr := freeAddr(t)
	upstream := startServer(t, "upstream", "--database", db) // any HTTP service will do
	proxy := startCommand(t, "proxy", "proxy", "--listen", "127.0.0.1:0", "--upstream", upstream.URL,
		"--issuer", "http://"+issuerAddr, "--audience", "notes", "--require-role", "/admin=admin")

	status, body := get(t, proxy.URL+"/.waxseal/readyz", "")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "not ready") {
		t.Fatalf("readyz with the issuer down: %d %q", status, body)
	}
	if status, body := get(t, proxy.URL+"/notes", "some.token.here"); status != http.StatusServiceUnavailable {
		t.Fatalf("request with the issuer down: %d %q", status, body)
	}
	if status, _ := get(t, proxy.URL+"/.waxseal/livez", ""); status != http.StatusOK {
		t.Fatalf("livez: %d", status)
	}
	if code, _, errOut := runIn(t, dir, "", "healthcheck", "--url", proxy.URL+"/.waxseal/readyz"); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Errorf("healthcheck with the issuer down: exit %d, %q", code, errOut)
	}
	if !strings.Contains(proxy.log.tail(), "does not answer") {
		t.Errorf("the proxy does not log why it is not ready:\n%s", proxy.log.tail())
	}

	startCommand(t, "issuer", "serve", "--listen", issuerAddr, "--database", db, "--audience", "notes")
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body = get(t, proxy.URL+"/.waxseal/readyz", "")
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 30 s after the issuer started: %d %q\n%s", status, body, proxy.log.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := mustIn(t, dir, "", "healthcheck", "--url", proxy.URL+"/.waxseal/readyz"); out != "ready\n" {
		t.Errorf("healthcheck once ready: %q", out)
	}
	if status, _ := get(t, proxy.URL+"/notes", "some.token.here"); status != http.StatusUnauthorized {
		t.Fatalf("a bad token once ready: %d, want 401", status)
	}

	// --require-role /admin=admin covers /admin and below, by whole
	// segments: /administrator needs a valid token only.
	const pw = "quince lantern meridian 81"
	mustIn(t, dir, pw+"\n", "user", "add", "--database", db, "--password-stdin", "carol")
	carol := login(t, "http://"+issuerAddr, "carol", pw)
	for path, want := range map[string]int{
		"/admin": http.StatusForbidden, "/admin/users": http.StatusForbidden, "/ADMIN/x": http.StatusForbidden,
		"/administrator": http.StatusNotFound, // reached the upstream, which has no such page
	} {
		if status, body := get(t, proxy.URL+path, carol); status != want {
			t.Errorf("carol, no admin role, GET %s: %d %q, want %d", path, status, body, want)
		}
	}
}

// TestHelp: a wrong flag is the error and one line pointing at --help;
// groups list their subcommands; each subcommand shows its own flags.
func TestHelp(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runIn(t, dir, "", "user", "add", "--rol", "admin", "alice")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 2 || out != "" || len(lines) != 2 || !strings.Contains(lines[0], "-rol") || !strings.Contains(lines[1], "waxseal user add --help") {
		t.Fatalf("wrong flag: exit %d, stderr %q", code, errOut)
	}
	for group, subs := range map[string][]string{
		"keys": {"init-master", "generate", "list", "rotate", "compromise", "jwks"},
		"user": {"add", "list", "disable", "enable", "roles", "passwd", "sessions"},
	} {
		code, out, _ := runIn(t, dir, "", group, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", group, code)
		}
		for _, sub := range subs {
			n := 0
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) > 1 && f[0] == sub {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s --help lists %s on %d lines:\n%s", group, sub, n, out)
			}
		}
	}
	code, out, _ = runIn(t, dir, "", "user", "list", "--help")
	if code != 0 || !strings.Contains(out, "-database") || !strings.Contains(out, "-json") {
		t.Errorf("user list --help: exit %d\n%s", code, out)
	}
	for _, unused := range []string{"-master-key-file", "-alg", "-access-ttl", "-password-stdin"} {
		if strings.Contains(out, unused) {
			t.Errorf("user list --help shows %s:\n%s", unused, out)
		}
	}
	if _, out, _ = runIn(t, dir, "", "user", "passwd", "--help"); !strings.Contains(out, "standard input") {
		t.Errorf("user passwd --help does not say it reads standard input:\n%s", out)
	}
	if _, out, _ = runIn(t, dir, "", "keys", "init-master", "--help"); !strings.Contains(out, "base64") {
		t.Errorf("keys init-master --help does not document the file format:\n%s", out)
	}

	// audit: names beside IDs; an unknown type is an error.
	mustIn(t, dir, "", "migrate")
	mustIn(t, dir, "", "user", "add", "alice")
	out = mustIn(t, dir, "", "audit", "--type", "user_created")
	if !strings.Contains(out, "USER ID") || !strings.Contains(out, " alice ") {
		t.Errorf("audit does not name the user:\n%s", out)
	}
	code, out, errOut = runIn(t, dir, "", "audit", "--type", "user_craeted")
	if code != 2 || out != "" || !strings.Contains(errOut, "unknown --type") {
		t.Errorf("audit --type user_craeted: exit %d\n%s%s", code, out, errOut)
	}
}

// TestVersion: the version, commit and Go version come from the binary's
// build information.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out := mustIn(t, t.TempDir(), "", args...)
		if !strings.HasPrefix(out, "waxseal ") || !strings.Contains(out, "\ncommit: ") ||
			!strings.Contains(out, "\ngo: "+runtime.Version()+"\n") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Errorf("waxseal %s:\n%s", args[0], out)
		}
	}
}

// TestPostgresPool: on PostgreSQL the issuer's pool holds 16 connections
// (or 4 per CPU) unless pool_max_conns says otherwise, and /metrics shows
// the waits for a connection.
func TestPostgresPool(t *testing.T) {
	waxsealBinary(t)
	db := pgtest.URL(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "master.key")
	mustIn(t, dir, "", "migrate", "--database", db)
	if code, _, errOut := runIn(t, dir, "", "serve", "--listen", "127.0.0.1:0", "--database", db, "--master-key-file", key); code != 1 || !strings.Contains(errOut, "keys init-master") {
		t.Fatalf("serve on PostgreSQL without a master key: exit %d, %q", code, errOut)
	}
	mustIn(t, dir, "", "keys", "init-master", "--master-key-file", key)
	for _, tc := range []struct{ url, max string }{
		{db, fmt.Sprint(postgres.DefaultMaxConns())},
		{db + "&pool_max_conns=3", "3"},
	} {
		srv := startServer(t, "pg", "--database", tc.url, "--master-key-file", key, "--metrics-listen", "127.0.0.1:0")
		_, metrics := get(t, srv.metricsURL(t)+"/metrics", "")
		for _, want := range []string{"waxseal_db_pool_max_conns " + tc.max + "\n", "waxseal_db_pool_waits_total ", "waxseal_db_pool_wait_seconds_total "} {
			if !strings.Contains(metrics, want) {
				t.Errorf("%s: /metrics lacks %q", tc.url, want)
			}
		}
	}
}

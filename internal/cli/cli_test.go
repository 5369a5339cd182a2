package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// run runs the waxseal command with args and stdin, and returns its exit
// code and output.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, "", args...)
	if code != 0 {
		t.Fatalf("waxseal %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// dataDir makes a directory with a new SQLite database and points
// --database at it through the environment, as an operator's unit file
// would.
func dataDir(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("WAXSEAL_DATABASE", "sqlite:"+filepath.Join(dir, "waxseal.db"))
	mustRun(t, "migrate")
	return dir
}

// openRing opens the ring in the data directory's database, as the server
// would.
func openRing(t *testing.T, dir string) (*keyring.Ring, dburl.DB) {
	ctx := context.Background()
	mk, err := keyring.LoadMasterKeyFile(filepath.Join(dir, "waxseal.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := dburl.Open(ctx, "sqlite:"+filepath.Join(dir, "waxseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := keyring.Open(ctx, db, mk, keyring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r, db
}

func mintWith(t *testing.T, r *keyring.Ring, iss string) string {
	key, err := r.Signer()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := token.Mint(key, &token.Claims{
		Issuer: iss, Subject: "alice", Audience: []string{"notes"}, Expiry: now.Add(time.Minute),
		IssuedAt: now, ID: token.NewID(), ClientID: "cli", Roles: []string{"admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestKeysLifecycle(t *testing.T) {
	dir := dataDir(t)
	if code, _, errOut := run(t, "", "keys", "list"); code != 1 || !strings.Contains(errOut, "keys generate") {
		t.Fatalf("keys list without a ring: exit %d, %q", code, errOut)
	}
	out := mustRun(t, "keys", "generate")
	if !strings.Contains(out, "active") {
		t.Fatalf("generate printed %q", out)
	}
	for _, f := range []string{"waxseal.db", "waxseal.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", f, st.Mode().Perm())
		}
	}
	if code, _, _ := run(t, "", "keys", "generate"); code != 1 {
		t.Errorf("second generate: exit %d, want 1", code)
	}

	mustRun(t, "keys", "rotate")
	var all, keys []struct{ Kid, Alg, State string }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "list", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	// The RS256 key that signs ID tokens keeps its own schedule.
	rsa := 0
	for _, k := range all {
		if k.Alg == "RS256" {
			rsa++
		} else {
			keys = append(keys, k)
		}
	}
	if rsa != 1 || len(keys) != 2 || keys[0].State != "active" || keys[1].State != "pending" {
		t.Fatalf("after rotate: %+v", all)
	}

	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "jwks")), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("jwks has %d keys, want the active and the pending one, and the RS256 one", len(set.Keys))
	}
	for _, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Fatal("jwks leaks a private key")
		}
	}

	// A kid is a base64url thumbprint and may start with '-': the flag
	// package would read it as a flag, so the error says to put it after --.
	code, _, errOut := run(t, "", "keys", "compromise", "-"+keys[0].Kid[1:])
	if code == 0 || !strings.Contains(errOut, "goes after '--'") {
		t.Fatalf("keys compromise -KID: exit %d, want a usage error that points at --:\n%s", code, errOut)
	}
	mustRun(t, "keys", "compromise", "--", keys[0].Kid)
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "jwks")), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k["kid"] == keys[0].Kid {
			t.Fatal("compromised key still published")
		}
	}
}

func TestMasterKeyPermissions(t *testing.T) {
	dir := dataDir(t)
	mustRun(t, "keys", "generate")
	if err := os.Chmod(filepath.Join(dir, "waxseal.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "", "keys", "list")
	if code != 1 || !strings.Contains(errOut, "waxseal.key") {
		t.Fatalf("world-readable master key: exit %d, %q", code, errOut)
	}
}

func TestPostgresNeedsExplicitMasterKey(t *testing.T) {
	t.Setenv("WAXSEAL_DATABASE", "postgres://nobody@127.0.0.1:1/none")
	code, _, errOut := run(t, "", "keys", "generate")
	if code != 1 {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

func TestUsersAndRevocation(t *testing.T) {
	dataDir(t)
	code, _, errOut := run(t, "tangerine submarine orchestra 42\n", "user", "add", "--password-stdin", "--role", "admin", "--role", "editor", "Alice")
	if code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "password\n", "user", "add", "--password-stdin", "bob"); code != 1 || !strings.Contains(errOut, "not accepted") {
		t.Errorf("weak password: exit %d, %q", code, errOut)
	}
	if code, _, _ := run(t, "tangerine submarine orchestra 42\n", "user", "add", "--password-stdin", "ａｌｉｃｅ"); code != 1 {
		t.Error("a second alice was added")
	}
	generated := strings.TrimSpace(mustRun(t, "user", "add", "carol"))
	if len(generated) < 20 {
		t.Errorf("generated password %q", generated)
	}

	var users []struct {
		ID, Name string
		Roles    []string
		Disabled bool
	}
	if err := json.Unmarshal([]byte(mustRun(t, "user", "list", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Name != "alice" || strings.Join(users[0].Roles, ",") != "admin,editor" {
		t.Fatalf("users: %+v", users)
	}

	mustRun(t, "user", "disable", "ALICE")
	if err := json.Unmarshal([]byte(mustRun(t, "user", "list", "--json")), &users); err != nil || !users[0].Disabled {
		t.Fatalf("after disable: %+v %v", users, err)
	}
	mustRun(t, "user", "enable", "alice")
	if cursor := strings.TrimSpace(mustRun(t, "revoke", "user", "--", users[0].ID)); cursor != "2" {
		t.Errorf("revoke user printed cursor %q, want 2 (after the disable's)", cursor)
	}
	if cursor := strings.TrimSpace(mustRun(t, "revoke", "token", "some-jti")); cursor != "3" {
		t.Errorf("revoke token printed cursor %q", cursor)
	}
	if code, _, errOut := run(t, "", "revoke", "session", "no-such-session"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("revoke of an unknown session: exit %d, %q", code, errOut)
	}
	mustRun(t, "migrate")
}

func TestTokenDecode(t *testing.T) {
	dir := dataDir(t)
	mustRun(t, "keys", "generate")
	ring, _ := openRing(t, dir)
	tok := mintWith(t, ring, "https://issuer.example")
	out := mustRun(t, "token", "decode", tok)
	for _, want := range []string{"UNVERIFIED", `"typ": "at+jwt"`, `"sub": "alice"`, "exp: "} {
		if !strings.Contains(out, want) {
			t.Errorf("decode output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := run(t, "", "token", "decode", "not.a.token!"); code != 1 {
		t.Errorf("decode of garbage: exit %d", code)
	}
	if code, _, _ := run(t, "", "token", "decode"); code != 2 {
		t.Errorf("decode without a token: exit %d", code)
	}
}

func TestTokenVerify(t *testing.T) {
	dir := dataDir(t)
	mustRun(t, "keys", "generate")
	ring, db := openRing(t, dir)
	hasher, err := password.NewHasher(password.HasherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nil)
	defer srv.Close()
	is, err := issuer.New(issuer.Config{Issuer: srv.URL, Keys: ring, Store: db, Hasher: hasher})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = is
	tok := mintWith(t, ring, srv.URL)

	t.Run("remote keys", func(t *testing.T) {
		out := mustRun(t, "token", "verify", "--issuer", srv.URL, "--audience", "notes", tok)
		if !strings.Contains(out, "VALID") || !strings.Contains(out, `"sub": "alice"`) {
			t.Errorf("verify printed %s", out)
		}
	})
	t.Run("wrong audience", func(t *testing.T) {
		code, _, errOut := run(t, "", "token", "verify", "--issuer", srv.URL, "--audience", "billing", tok)
		if code != 1 || !strings.Contains(errOut, "audience") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("no audience warns", func(t *testing.T) {
		code, _, errOut := run(t, "", "token", "verify", "--issuer", srv.URL, tok)
		if code != 0 || !strings.Contains(errOut, "not checked") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("jwks file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(f, []byte(mustRun(t, "keys", "jwks")), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "token", "verify", "--issuer", srv.URL, "--audience", "notes", "--jwks-file", f, tok)
	})
	t.Run("tampered", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		parts[1] = parts[1][:len(parts[1])-2] + "AA"
		code, _, errOut := run(t, "", "token", "verify", "--issuer", srv.URL, "--audience", "notes", strings.Join(parts, "."))
		if code != 1 || !strings.Contains(errOut, "not valid") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	dataDir(t)
	code, _, errOut := run(t, "", "serve", "--listen", "0.0.0.0:0")
	if code != 1 || !strings.Contains(errOut, "--insecure-http") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"keys"}, {"keys", "nope"}, {"token", "verify"}, {"user"}, {"revoke", "x"}} {
		if code, _, _ := run(t, "", args...); code != 2 {
			t.Errorf("waxseal %v: exit %d, want 2", args, code)
		}
	}
}

// TestClientAddForSignIn: client add registers apps for the authorization
// code flow: redirect URIs, public or confidential, the ID-token algorithm;
// a public client gets no secret, and bad redirect URIs are refused.
func TestClientAddForSignIn(t *testing.T) {
	dataDir(t)
	out := mustRun(t, "client", "add", "--json", "--public", "--redirect-uri", "http://127.0.0.1/cb",
		"--redirect-uri", "com.example.app:/cb", "--post-logout-redirect-uri", "https://app.example/", "--id-token-alg", "EdDSA", "spa")
	if strings.TrimSpace(out) != `{"client_id":"spa"}` {
		t.Errorf("public client add printed %q, want no secret", out)
	}
	out = mustRun(t, "client", "add", "--json", "--redirect-uri", "https://notes.example/cb", "web")
	if !strings.Contains(out, `"client_secret":"`) {
		t.Errorf("confidential client add printed %q, want a secret", out)
	}
	var clients []struct {
		ID       string   `json:"client_id"`
		Public   bool     `json:"public"`
		Grants   []string `json:"grant_types"`
		Scopes   []string `json:"scopes"`
		Redirect []string `json:"redirect_uris"`
		Logout   []string `json:"post_logout_redirect_uris"`
		Alg      string   `json:"id_token_signed_response_alg"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "client", "list", "--json")), &clients); err != nil || len(clients) != 2 {
		t.Fatalf("client list: %+v %v", clients, err)
	}
	spa, web := clients[0], clients[1]
	if !spa.Public || spa.Alg != "EdDSA" || len(spa.Redirect) != 2 || spa.Logout[0] != "https://app.example/" ||
		strings.Join(spa.Grants, " ") != "authorization_code refresh_token" || strings.Join(spa.Scopes, " ") != "openid profile email offline_access" {
		t.Errorf("spa = %+v", spa)
	}
	if web.Public || web.Alg != "RS256" {
		t.Errorf("web = %+v", web)
	}
	for _, bad := range [][]string{
		{"--redirect-uri", "http://app.example/cb", "x1"},       // plain http off loopback
		{"--redirect-uri", "https://app.example/cb#frag", "x2"}, // fragment
		{"--redirect-uri", "javascript:alert(1)", "x3"},         // not a reverse-domain scheme
		{"--grant", "authorization_code", "x4"},                 // no redirect URI
		{"--public", "--grant", "client_credentials", "x5"},     // a public client has no secret to use
		{"--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256", "x6"},
	} {
		if code, _, errOut := run(t, "", append([]string{"client", "add"}, bad...)...); code != 1 {
			t.Errorf("client add %v: exit %d %q, want refused", bad, code, errOut)
		}
	}
}

func TestClientsAndAudit(t *testing.T) {
	dataDir(t)
	var created struct{ ClientID, ClientSecret string }
	out := mustRun(t, "client", "add", "--json", "--scope", "invoices:read", "--role", "service", "billing")
	if err := json.Unmarshal([]byte(out), &struct {
		ClientID     *string `json:"client_id"`
		ClientSecret *string `json:"client_secret"`
	}{&created.ClientID, &created.ClientSecret}); err != nil || created.ClientID != "billing" || len(created.ClientSecret) < 40 {
		t.Fatalf("client add --json printed %q (%v)", out, err)
	}
	if code, _, _ := run(t, "", "client", "add", "billing"); code != 1 {
		t.Error("a second billing client was added")
	}
	if code, _, errOut := run(t, "", "client", "add", "--grant", "implicit", "x"); code != 1 || !strings.Contains(errOut, "grant") {
		t.Errorf("unknown grant: exit %d %q", code, errOut)
	}
	var clients []struct {
		ID     string   `json:"client_id"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "client", "list", "--json")), &clients); err != nil || len(clients) != 1 || clients[0].Scopes[0] != "invoices:read" {
		t.Fatalf("client list: %+v %v", clients, err)
	}
	if strings.Contains(mustRun(t, "client", "list", "--json"), created.ClientSecret) {
		t.Fatal("client list shows the secret")
	}
	rotated := mustRun(t, "client", "rotate-secret", "--json", "--overlap", "1h", "billing")
	if !strings.Contains(rotated, "client_secret") || strings.Contains(rotated, created.ClientSecret) {
		t.Errorf("rotate-secret printed %q", rotated)
	}
	mustRun(t, "client", "delete", "billing")
	if code, _, _ := run(t, "", "client", "delete", "billing"); code != 1 {
		t.Error("deleting a missing client succeeded")
	}

	if code, _, errOut := run(t, "tangerine submarine orchestra 42\n", "user", "add", "--password-stdin", "alice"); code != 0 {
		t.Fatal(errOut)
	}
	if got := strings.TrimSpace(mustRun(t, "user", "roles", "alice", "admin", "editor")); got != "admin editor" {
		t.Errorf("user roles set: %q", got)
	}
	if got := strings.TrimSpace(mustRun(t, "user", "roles", "alice")); got != "admin editor" {
		t.Errorf("user roles: %q", got)
	}
	if code, _, errOut := run(t, "quiet lantern velvet harbor 7\n", "user", "passwd", "alice"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, _ := run(t, "short\n", "user", "passwd", "alice"); code != 1 {
		t.Error("a weak password was set")
	}
	if out := mustRun(t, "user", "sessions", "alice"); !strings.HasPrefix(out, "SESSION") {
		t.Errorf("user sessions: %q", out)
	}
	var events []struct{ Type, UserID, ClientID string }
	if err := json.Unmarshal([]byte(mustRun(t, "audit", "--json", "--limit", "100")), &events); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, e := range events {
		types[e.Type] = true
	}
	for _, want := range []string{"client_created", "client_secret_rotated", "client_deleted", "user_created", "roles_set", "password_changed"} {
		if !types[want] {
			t.Errorf("audit lacks %s: %v", want, types)
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, "audit", "--json", "--user", "alice", "--type", "roles_set")), &events); err != nil || len(events) != 1 {
		t.Errorf("filtered audit: %+v %v", events, err)
	}
}

package sessionapp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/password"
)

func newServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	h, err := password.NewHasher(password.HasherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	users, _ := json.Marshal(map[string]string{"alice": hash})
	cfg.Users = filepath.Join(dir, "users.json")
	cfg.Database = filepath.Join(dir, "notes.db")
	if err := os.WriteFile(cfg.Users, users, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func do(t *testing.T, c *http.Client, method, u, ctype, body string, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func login(t *testing.T, c *http.Client, base, pw string) (int, string, http.Header) {
	st, m, h := do(t, c, "POST", base+"/login", "application/x-www-form-urlencoded",
		url.Values{"username": {"alice"}, "password": {pw}}.Encode(), nil)
	tok, _ := m["csrf_token"].(string)
	return st, tok, h
}

// TestSessionLifecycle: no session, no notes; a wrong password starts no
// session; a login does, its cookie is HttpOnly and SameSite=Lax by
// default; logout ends it.
func TestSessionLifecycle(t *testing.T) {
	ts := newServer(t, Config{})
	c := client(t)
	if st, _, _ := do(t, c, "GET", ts.URL+"/notes", "", "", nil); st != 401 {
		t.Fatalf("notes without a session: %d", st)
	}
	if st, _, _ := login(t, c, ts.URL, "wrong password here"); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	if st, _, _ := do(t, c, "GET", ts.URL+"/notes", "", "", nil); st != 401 {
		t.Fatalf("notes after a failed login: %d", st)
	}
	st, _, h := login(t, c, ts.URL, "correct horse battery")
	if st != 200 {
		t.Fatalf("login: %d", st)
	}
	sc := h.Get("Set-Cookie")
	if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Errorf("session cookie %q: want HttpOnly and SameSite=Lax", sc)
	}
	if st, _, _ := do(t, c, "POST", ts.URL+"/notes", "application/json", `{"text":"milk"}`, nil); st != 201 {
		t.Fatalf("add a note: %d", st)
	}
	if st, _, _ := do(t, c, "POST", ts.URL+"/logout", "", "", nil); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	if st, _, _ := do(t, c, "GET", ts.URL+"/notes", "", "", nil); st != 401 {
		t.Fatalf("notes after logout: %d", st)
	}
}

// TestCSRFToken: with CSRF required, a state-changing request without
// the session's token is refused even with the cookie; with it, it acts.
func TestCSRFToken(t *testing.T) {
	ts := newServer(t, Config{CSRF: true, SameSite: "none"})
	c := client(t)
	st, tok, h := login(t, c, ts.URL, "correct horse battery")
	if st != 200 || tok == "" {
		t.Fatalf("login: %d, token %q", st, tok)
	}
	if sc := h.Get("Set-Cookie"); !strings.Contains(sc, "SameSite=None") || !strings.Contains(sc, "Secure") {
		t.Errorf("cookie %q: want SameSite=None; Secure", sc)
	}
	// httptest serves plain HTTP, where a Secure cookie is not sent back
	// by a jar; carry it by hand as a browser on localhost would.
	cookie := strings.Split(h.Get("Set-Cookie"), ";")[0]
	plain := &http.Client{}
	if st, _, _ := do(t, plain, "POST", ts.URL+"/notes", "application/x-www-form-urlencoded", "text=forged", map[string]string{"Cookie": cookie}); st != 403 {
		t.Errorf("form without the CSRF token: %d, want 403", st)
	}
	if st, _, _ := do(t, plain, "POST", ts.URL+"/notes", "application/x-www-form-urlencoded", "text=x&csrf_token=wrong", map[string]string{"Cookie": cookie}); st != 403 {
		t.Errorf("form with a wrong CSRF token: %d, want 403", st)
	}
	if st, _, _ := do(t, plain, "POST", ts.URL+"/notes", "application/json", `{"text":"mine"}`, map[string]string{"Cookie": cookie, "X-CSRF-Token": tok}); st != 201 {
		t.Errorf("JSON with the CSRF header: %d, want 201", st)
	}
}

// TestSharedSessionsInRedis: a session made by one instance is honoured by
// another instance that shares the Redis store, and logout at either ends
// it at both.
func TestSharedSessionsInRedis(t *testing.T) {
	ru := os.Getenv("WAXSEAL_TEST_REDIS")
	if ru == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WAXSEAL_TEST_REDIS is required under CI=true")
		}
		t.Skip("WAXSEAL_TEST_REDIS unset")
	}
	a := newServer(t, Config{Redis: ru})
	b := newServer(t, Config{Redis: ru})
	c := &http.Client{}
	st, _, h := login(t, c, a.URL, "correct horse battery")
	if st != 200 {
		t.Fatalf("login: %d", st)
	}
	cookie := map[string]string{"Cookie": strings.Split(h.Get("Set-Cookie"), ";")[0]}
	if st, _, _ := do(t, c, "GET", b.URL+"/notes", "", "", cookie); st != 200 {
		t.Fatalf("the other instance: %d", st)
	}
	if st, _, _ := do(t, c, "POST", b.URL+"/logout", "", "", cookie); st != 204 {
		t.Fatalf("logout at the other instance: %d", st)
	}
	if st, _, _ := do(t, c, "GET", a.URL+"/notes", "", "", cookie); st != 401 {
		t.Fatalf("the first instance after logout: %d", st)
	}
}

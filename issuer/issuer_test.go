package issuer_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/ratelimit"
)

func TestOAuth2Client(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		// Access tokens shorter-lived than the client's expiry margin (10 s)
		// look expired at once, so every Token call below refreshes.
		e := newEnv(t, eng.open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) { c.AccessTTL = 5 * time.Second })
		e.addUser("alice", testPassword, "editor")
		conf := &oauth2.Config{ClientID: "web", Endpoint: oauth2.Endpoint{TokenURL: e.http.URL + issuer.TokenPath}}
		ctx := context.Background()

		tok, err := conf.PasswordCredentialsToken(ctx, "Alice", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
			t.Fatalf("token %+v", tok)
		}
		ts := conf.TokenSource(ctx, tok)
		prev := tok
		for i := range 3 {
			next, err := ts.Token()
			if err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
			if next.AccessToken == prev.AccessToken || next.RefreshToken == prev.RefreshToken {
				t.Fatalf("refresh %d did not rotate", i)
			}
			if !e.works(next.AccessToken) {
				t.Fatalf("refreshed access token %d refused", i)
			}
			prev = next
		}
		// The client the library builds sends the bearer token itself.
		resp, err := conf.Client(ctx, prev).Get(e.http.URL + issuer.UserinfoPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("userinfo through the oauth2 client: %d", resp.StatusCode)
		}
	})
}

func TestLoginAndUserinfo(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		u := e.addUser("alice", testPassword, "admin", "editor")
		r := e.login("ＡＬＩＣＥ", testPassword) // full-width: the same canonical name
		if r.Status != http.StatusOK {
			t.Fatalf("login: %d %s", r.Status, r.Raw)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.str("token_type") != "Bearer" || r.Body["expires_in"].(float64) != 600 {
			t.Errorf("token response: %v %s", r.Header, r.Raw)
		}
		info := e.get(issuer.UserinfoPath, r.str("access_token"))
		if info.Status != http.StatusOK || info.str("sub") != u.ID || info.str("client_id") != "web" ||
			info.str("preferred_username") != "alice" || len(info.Body["roles"].([]any)) != 2 {
			t.Errorf("userinfo: %d %s", info.Status, info.Raw)
		}

		// An unknown user and a wrong password get the same answer.
		wrong := e.login("alice", testPassword+"x")
		unknown := e.login("bob", testPassword)
		if wrong.Status != http.StatusBadRequest || wrong.Raw != unknown.Raw || wrong.Status != unknown.Status {
			t.Errorf("wrong password %d %s; unknown user %d %s", wrong.Status, wrong.Raw, unknown.Status, unknown.Raw)
		}
		events, err := e.store.Audit(context.Background(), 0, 10, "", "login_failed")
		if err != nil || len(events) != 2 {
			t.Errorf("audit has %d login_failed events (%v), want 2", len(events), err)
		}
	})
}

func TestRefreshRotation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		_, rt1 := e.mustLogin("alice", testPassword)

		r2 := e.refresh(rt1)
		rt2 := r2.str("refresh_token")
		if r2.Status != http.StatusOK || rt2 == "" || rt2 == rt1 {
			t.Fatalf("first refresh: %d %s", r2.Status, r2.Raw)
		}
		// A retry inside the grace window gets the same successor and a
		// fresh access token.
		e.clock.Advance(issuer.DefaultRefreshGrace - time.Second)
		again := e.refresh(rt1)
		if again.Status != http.StatusOK || again.str("refresh_token") != rt2 || again.str("access_token") == r2.str("access_token") {
			t.Fatalf("retry in grace: %d %s", again.Status, again.Raw)
		}
		r3 := e.refresh(rt2)
		rt3, at3 := r3.str("refresh_token"), r3.str("access_token")
		if r3.Status != http.StatusOK || !e.works(at3) {
			t.Fatalf("second refresh: %d %s", r3.Status, r3.Raw)
		}

		// Reuse after the window is theft: the session ends everywhere.
		e.clock.Advance(2 * time.Second)
		reuse := e.refresh(rt1)
		if reuse.Status != http.StatusBadRequest || reuse.str("error") != "invalid_grant" {
			t.Fatalf("reuse: %d %s", reuse.Status, reuse.Raw)
		}
		if r := e.refresh(rt3); r.Status != http.StatusBadRequest {
			t.Errorf("the session's newest refresh token still works: %d", r.Status)
		}
		if e.works(at3) {
			t.Error("the session's access token still works")
		}
		var digest string
		for _, rev := range e.revocations() {
			if rev["kind"] == "sid" {
				digest, _ = rev["digest"].(string)
			}
		}
		if digest == "" {
			t.Error("the feed has no session revocation")
		}
		ev, err := e.store.Audit(context.Background(), 0, 10, "", "refresh_reuse")
		if err != nil || len(ev) != 1 || waxseal.RevokeSession.Digest(ev[0].SessionID) != digest {
			t.Errorf("audit of the reuse: %v %v", ev, err)
		}
	})
}

func TestConcurrentRefreshSameSuccessor(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		_, rt := e.mustLogin("alice", testPassword)
		const n = 50
		results := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = e.refresh(rt)
			}()
		}
		wg.Wait()
		successors := map[string]bool{}
		accessTokens := map[string]bool{}
		for i, r := range results {
			if r.Status != http.StatusOK {
				t.Fatalf("refresh %d: %d %s", i, r.Status, r.Raw)
			}
			successors[r.str("refresh_token")] = true
			accessTokens[r.str("access_token")] = true
		}
		if len(successors) != 1 {
			t.Fatalf("%d different successors, want 1", len(successors))
		}
		if len(accessTokens) != n {
			t.Errorf("%d distinct access tokens, want %d", len(accessTokens), n)
		}
		for s := range successors {
			if r := e.refresh(s); r.Status != http.StatusOK {
				t.Errorf("the shared successor does not refresh: %d %s", r.Status, r.Raw)
			}
		}
	})
}

func TestLogout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		at1, rt1 := e.mustLogin("alice", testPassword)
		at2, rt2 := e.mustLogin("alice", testPassword)

		if r := e.postForm(issuer.LogoutPath, nil, at1); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Raw)
		}
		if e.works(at1) || e.refresh(rt1).Status != http.StatusBadRequest {
			t.Error("the ended session still works")
		}
		if !e.works(at2) {
			t.Fatal("logout ended the other session too")
		}
		r := e.refresh(rt2)
		if r.Status != http.StatusOK {
			t.Fatal("the other session cannot refresh")
		}
		at3, rt3 := r.str("access_token"), r.str("refresh_token")

		if r := e.postForm(issuer.LogoutAllPath, nil, at3); r.Status != http.StatusNoContent {
			t.Fatalf("logout-all: %d %s", r.Status, r.Raw)
		}
		if e.works(at2) || e.works(at3) || e.refresh(rt3).Status != http.StatusBadRequest {
			t.Error("a session survived logout-all")
		}
		// Tokens of a new login, in a later second, work.
		e.clock.Advance(time.Second)
		at4, _ := e.mustLogin("alice", testPassword)
		if !e.works(at4) {
			t.Error("a new login after logout-all is refused")
		}
		if r := e.postForm(issuer.LogoutPath, nil, ""); r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("logout without a token: %d %v", r.Status, r.Header)
		}
	})
}

func TestRevocationEndpoint(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		at1, rt1 := e.mustLogin("alice", testPassword)
		at2, _ := e.mustLogin("alice", testPassword)

		// An access token is revoked by its jti alone.
		if r := e.postForm(issuer.RevokePath, url.Values{"token": {at1}}, ""); r.Status != http.StatusOK {
			t.Fatalf("revoke access token: %d %s", r.Status, r.Raw)
		}
		if e.works(at1) {
			t.Error("revoked access token works")
		}
		if r := e.refresh(rt1); r.Status != http.StatusOK {
			t.Error("revoking an access token ended its session")
		}
		// A refresh token ends its whole session.
		_, rt2 := e.mustLogin("alice", testPassword)
		if r := e.postForm(issuer.RevokePath, url.Values{"token": {rt2}, "token_type_hint": {"refresh_token"}}, ""); r.Status != http.StatusOK {
			t.Fatalf("revoke refresh token: %d", r.Status)
		}
		if e.refresh(rt2).Status != http.StatusBadRequest {
			t.Error("revoked refresh token works")
		}
		if !e.works(at2) {
			t.Error("revoking one session revoked another")
		}
		// Unknown tokens answer 200 (RFC 7009 §2.2).
		for _, tok := range []string{"nonsense", strings.Repeat("A", 43), "a.b.c"} {
			if r := e.postForm(issuer.RevokePath, url.Values{"token": {tok}}, ""); r.Status != http.StatusOK {
				t.Errorf("revoke %q: %d", tok, r.Status)
			}
		}
		if r := e.postForm(issuer.RevokePath, url.Values{}, ""); r.Status != http.StatusBadRequest || r.str("error") != "invalid_request" {
			t.Errorf("revoke without token: %d %s", r.Status, r.Raw)
		}
	})
}

func TestDisabledUser(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		u := e.addUser("alice", testPassword)
		at, rt := e.mustLogin("alice", testPassword)
		if _, err := e.acct.EndUser(context.Background(), u.ID, true, "user_disabled", ""); err != nil {
			t.Fatal(err)
		}
		if !e.refusedSoon(at) {
			t.Error("a disabled user's access token works")
		}
		if e.refresh(rt).Status != http.StatusBadRequest {
			t.Error("a disabled user's refresh token works")
		}
		if r := e.login("alice", testPassword); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("a disabled user logs in: %d %s", r.Status, r.Raw)
		}
		got, _ := e.store.UserByID(context.Background(), u.ID)
		if err := e.acct.EnableUser(context.Background(), got); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		if at, _ := e.mustLogin("alice", testPassword); !e.works(at) {
			t.Error("a re-enabled user's token is refused")
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		limits := func(c *issuer.Config, _ *password.HasherConfig) {
			c.IdleTimeout, c.SessionLifetime = time.Hour, 3*time.Hour
		}
		e := newEnv(t, eng.open(t), nil, limits)
		e.addUser("alice", testPassword)

		t.Run("idle", func(t *testing.T) {
			_, rt := e.mustLogin("alice", testPassword)
			e.clock.Advance(59 * time.Minute)
			r := e.refresh(rt)
			if r.Status != http.StatusOK {
				t.Fatalf("refresh inside the idle timeout: %d %s", r.Status, r.Raw)
			}
			e.clock.Advance(61 * time.Minute)
			if r := e.refresh(r.str("refresh_token")); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("refresh after the idle timeout: %d %s", r.Status, r.Raw)
			}
		})
		t.Run("absolute", func(t *testing.T) {
			_, rt := e.mustLogin("alice", testPassword)
			for range 5 { // 2.5 h, never idle
				e.clock.Advance(30 * time.Minute)
				r := e.refresh(rt)
				if r.Status != http.StatusOK {
					t.Fatalf("refresh while active: %d %s", r.Status, r.Raw)
				}
				rt = r.str("refresh_token")
			}
			e.clock.Advance(31 * time.Minute) // 3 h 1 min after login
			if r := e.refresh(rt); r.Status != http.StatusBadRequest {
				t.Errorf("refresh past the session lifetime: %d %s", r.Status, r.Raw)
			}
		})
	})
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	e.addUser("alice", testPassword)
	tokenURL := e.http.URL + issuer.TokenPath
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, contentType, body string
		status                          int
		code                            string
	}{
		{"GET", http.MethodGet, "", "", 405, "invalid_request"},
		{"no content type", http.MethodPost, "", "grant_type=password", 400, "invalid_request"},
		{"wrong content type", http.MethodPost, "text/plain", "grant_type=password", 400, "invalid_request"},
		{"multipart", http.MethodPost, "multipart/form-data; boundary=x", "--x--", 400, "invalid_request"},
		{"malformed form", http.MethodPost, form, "grant_type=%zz", 400, "invalid_request"},
		{"malformed JSON", http.MethodPost, "application/json", `{"grant_type":`, 400, "invalid_request"},
		{"JSON array", http.MethodPost, "application/json", `["password"]`, 400, "invalid_request"},
		{"JSON number member", http.MethodPost, "application/json", `{"grant_type":"password","username":1}`, 400, "invalid_request"},
		{"JSON duplicate member", http.MethodPost, "application/json", `{"grant_type":"password","grant_type":"refresh_token"}`, 400, "invalid_request"},
		{"repeated parameter", http.MethodPost, form, "grant_type=password&grant_type=password&username=a&password=b", 400, "invalid_request"},
		{"body over the limit", http.MethodPost, form, "grant_type=password&username=" + strings.Repeat("a", 20<<10), 400, "invalid_request"},
		{"invalid UTF-8 body", http.MethodPost, form, "grant_type=password&username=\xff&password=x", 400, "invalid_request"},
		{"invalid UTF-8 escaped", http.MethodPost, form, "grant_type=password&username=%ff&password=x", 400, "invalid_request"},
		{"NUL", http.MethodPost, form, "grant_type=password&username=a%00&password=x", 400, "invalid_request"},
		{"no grant_type", http.MethodPost, form, "username=a", 400, "invalid_request"},
		{"unknown grant_type", http.MethodPost, form, "grant_type=urn:ietf:params:oauth:grant-type:device_code", 400, "unsupported_grant_type"},
		{"client_credentials without a client", http.MethodPost, form, "grant_type=client_credentials", 401, "invalid_client"},
		{"client_secret without client_id", http.MethodPost, form, "grant_type=client_credentials&client_secret=x", 400, "invalid_request"},
		{"implicit", http.MethodPost, form, "grant_type=implicit", 400, "unsupported_grant_type"},
		{"no password", http.MethodPost, form, "grant_type=password&username=alice", 400, "invalid_request"},
		{"no username", http.MethodPost, form, "grant_type=password&password=x", 400, "invalid_request"},
		{"SQL in username", http.MethodPost, form, url.Values{"grant_type": {"password"}, "username": {"alice' OR '1'='1"}, "password": {"x"}}.Encode(), 400, "invalid_grant"},
		{"SQL comment in username", http.MethodPost, form, url.Values{"grant_type": {"password"}, "username": {"alice'--"}, "password": {testPassword}}.Encode(), 400, "invalid_grant"},
		{"SQL in JSON", http.MethodPost, "application/json", `{"grant_type":"password","username":"x\"; DROP TABLE users; --","password":"y"}`, 400, "invalid_grant"},
		{"long username", http.MethodPost, form, "grant_type=password&password=x&username=" + strings.Repeat("a", 5000), 400, "invalid_grant"},
		{"bad client_id", http.MethodPost, form, "grant_type=password&username=alice&password=x&client_id=%01", 400, "invalid_request"},
		{"bad scope", http.MethodPost, form, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}, "scope": {"a  b"}}.Encode(), 400, "invalid_scope"},
		{"no refresh_token", http.MethodPost, form, "grant_type=refresh_token", 400, "invalid_request"},
		{"garbage refresh_token", http.MethodPost, form, "grant_type=refresh_token&refresh_token=abc", 400, "invalid_grant"},
		{"unknown refresh_token", http.MethodPost, form, "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43), 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tokenURL, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := e.do(req)
			if r.Status != tt.status || r.str("error") != tt.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tt.status, tt.code)
			}
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
			}
		})
	}
	// The users table survived the SQL above.
	if _, err := e.store.UserByName(context.Background(), "alice"); err != nil {
		t.Fatalf("alice is gone: %v", err)
	}
	// Basic credentials: this issuer has only public clients.
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=password&username=alice&password=x"))
	req.Header.Set("Content-Type", form)
	req.SetBasicAuth("web", "secret")
	if r := e.do(req); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("Basic auth: %d %s", r.Status, r.Raw)
	}
}

func TestLoginFloodGets503(t *testing.T) {
	// One hash at a time and no waiting: concurrent logins beyond the first
	// are refused with 503 and Retry-After instead of piling up memory.
	e := newEnv(t, sqliteEngine().open(t), nil, func(c *issuer.Config, h *password.HasherConfig) {
		c.Limits.Account = ratelimit.NewMemory(ratelimit.Policy{Burst: 1000, Refill: time.Millisecond})
		h.MaxConcurrent, h.MaxWait = 1, -1
		h.Params = password.Params{Memory: 8 << 10, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}
	})
	e.addUser("alice", testPassword)
	const n = 40
	statuses := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); statuses[i] = e.login("alice", testPassword) }()
	}
	wg.Wait()
	var ok, busy int
	for _, r := range statuses {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			busy++
			if r.Header.Get("Retry-After") == "" || r.str("error") != "temporarily_unavailable" {
				t.Errorf("503 without Retry-After or RFC 6749 error: %v %s", r.Header, r.Raw)
			}
		default:
			t.Errorf("login: %d %s", r.Status, r.Raw)
		}
	}
	if ok == 0 || busy == 0 {
		t.Errorf("%d logins succeeded and %d were refused; want some of each", ok, busy)
	}
}

func TestMetadataAndProbes(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := e.get(path, "")
		if r.Status != http.StatusOK || r.str("issuer") != testIssuer || r.str("token_endpoint") != testIssuer+issuer.TokenPath ||
			r.str("jwks_uri") != testIssuer+issuer.JWKSPath || r.str("revocation_feed_endpoint") != testIssuer+issuer.RevocationsPath {
			t.Errorf("%s: %d %s", path, r.Status, r.Raw)
		}
	}
	jwks := e.get(issuer.JWKSPath, "")
	if jwks.Status != http.StatusOK || !strings.Contains(jwks.Header.Get("Cache-Control"), "max-age=1800") || len(jwks.Body["keys"].([]any)) != 1 {
		t.Errorf("jwks: %d %v %s", jwks.Status, jwks.Header, jwks.Raw)
	}
	for _, path := range []string{issuer.LivePath, issuer.ReadyPath} {
		if r := e.get(path, ""); r.Status != http.StatusOK {
			t.Errorf("%s: %d", path, r.Status)
		}
	}
	if r := e.get("/nope", ""); r.Status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.Status)
	}
	e.store.Close()
	if r := e.get(issuer.ReadyPath, ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed: %d", r.Status)
	}
}

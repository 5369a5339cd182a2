package guard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/token"
)

// answer is what a client learns from a refusal.
type answer struct {
	status    int
	challenge string // WWW-Authenticate
	code      string // "error" in the JSON body
}

func answerOf(t *testing.T, w *httptest.ResponseRecorder) answer {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", w.Body, err)
		}
	}
	return answer{w.Code, w.Header().Get("WWW-Authenticate"), body.Error}
}

// TestBearerAnswers checks the RFC 6750 §3 answers of the middlewares.
func TestBearerAnswers(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	iss.AddUser("root", "admin")
	g := newGuard(t, iss, nil)
	issuertest.WaitReady(t, g)
	plain := iss.Login("alice", "notes:read").Access
	admin := iss.Login("root", "notes:read notes:write").Access
	tampered := plain[:len(plain)-4] + "AAAA"
	if tampered == plain {
		tampered = plain[:len(plain)-4] + "BBBB"
	}

	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	const (
		noError      = `Bearer realm="waxseal"`
		invalidToken = `Bearer realm="waxseal", error="invalid_token"`
		badRequest   = `Bearer realm="waxseal", error="invalid_request"`
		forbidden    = `Bearer realm="waxseal", error="insufficient_scope"`
	)
	for _, tc := range []struct {
		name      string
		mw        func(http.Handler) http.Handler
		req       func(*http.Request)
		status    int
		challenge string // prefix of WWW-Authenticate; empty for none
		code      string
	}{
		{"no token", g.Require, func(*http.Request) {}, 401, noError, "missing_token"},
		{"other scheme", g.Require, func(r *http.Request) { r.SetBasicAuth("alice", "pw") }, 401, noError, "missing_token"},
		{"garbage", g.Require, bearer("garbage"), 401, invalidToken, "invalid_token"},
		{"bad signature", g.Require, bearer(tampered), 401, invalidToken, "invalid_token"},
		{"empty bearer", g.Require, func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, 400, badRequest, "invalid_request"},
		{"two headers", g.Require, func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+plain)
			r.Header.Add("Authorization", "Bearer "+plain)
		}, 400, badRequest, "invalid_request"},
		{"token in query", g.Require, func(r *http.Request) { r.URL.RawQuery = "access_token=" + plain }, 400, badRequest, "invalid_request"},
		{"valid", g.Require, bearer(plain), 200, "", ""},
		{"role held", g.RequireRole("admin"), bearer(admin), 200, "", ""},
		{"role missing", g.RequireRole("admin"), bearer(plain), 403, forbidden, "insufficient_scope"},
		{"role missing, no token", g.RequireRole("admin"), func(*http.Request) {}, 401, noError, "missing_token"},
		{"scope held", g.RequireScope("notes:read"), bearer(plain), 200, "", ""},
		{"scope missing", g.RequireScope("notes:write"), bearer(plain), 403, forbidden, "insufficient_scope"},
		{"scope missing, bad token", g.RequireScope("notes:write"), bearer("garbage"), 401, invalidToken, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := answerOf(t, callWith(tc.mw(ok), tc.req))
			if got.status != tc.status || got.code != tc.code {
				t.Errorf("answer = %d %q, want %d %q", got.status, got.code, tc.status, tc.code)
			}
			switch {
			case tc.challenge == "" && got.challenge != "":
				t.Errorf("WWW-Authenticate = %q on success", got.challenge)
			case tc.challenge == noError && got.challenge != noError:
				t.Errorf("WWW-Authenticate = %q, want %q: no error code without credentials (RFC 6750 §3.1)", got.challenge, noError)
			case !strings.HasPrefix(got.challenge, tc.challenge):
				t.Errorf("WWW-Authenticate = %q, want %q…", got.challenge, tc.challenge)
			}
		})
	}
	if w := callWith(g.RequireScope("notes:write")(ok), bearer(plain)); !strings.Contains(w.Header().Get("WWW-Authenticate"), "notes:write") {
		t.Errorf("insufficient_scope does not name the scope: %q", w.Header().Get("WWW-Authenticate"))
	}
}

// TestRefusalsDoNotQuoteToken checks that no refusal shows the client the
// token or anything from inside it: the detail goes to the log only.
func TestRefusalsDoNotQuoteToken(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	bob := iss.AddUser("bob")
	g := newGuard(t, iss, nil)
	issuertest.WaitReady(t, g)
	elsewhere := newGuard(t, iss, func(c *guard.Config) { c.Audience = "elsewhere" })
	issuertest.WaitReady(t, elsewhere)
	tok := iss.Login("alice", "notes:read").Access
	c, err := g.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	secrets := append(strings.Split(tok, "."), tok, c.Subject, c.ID, c.SessionID, c.KeyID, "notes:read")
	parts := strings.Split(tok, ".")
	revoked := iss.Login("bob", "").Access
	if status, _ := iss.Post("/v1/logout", nil, revoked); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	issuertest.WaitFor(t, "the logout to reach the guard", func() bool {
		return call(g.Require(ok), revoked).Code == http.StatusUnauthorized
	})
	secrets = append(append(secrets, strings.Split(revoked, ".")...), bob.ID)

	refusals := map[string]*httptest.ResponseRecorder{
		"bad signature":  call(g.Require(ok), parts[0]+"."+parts[1]+"."+parts[0]),
		"bad header":     call(g.Require(ok), parts[1]+"."+parts[1]+"."+parts[2]),
		"wrong audience": call(elsewhere.Require(ok), tok),
		"missing role":   call(g.RequireRole("admin")(ok), tok),
		"missing scope":  call(g.RequireScope("notes:write")(ok), tok),
		"revoked":        call(g.Require(ok), revoked),
	}
	iss.Clock.Advance(time.Hour)
	refusals["expired"] = call(g.Require(ok), tok)
	for name, w := range refusals {
		if w.Code < 400 {
			t.Errorf("%s: accepted (%d)", name, w.Code)
		}
		shown := w.Body.String() + strings.Join(w.Header().Values("WWW-Authenticate"), " ")
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(shown, s) {
				t.Errorf("%s: the answer %q quotes %q", name, shown, s)
			}
		}
	}
}

func TestClaimsFrom(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	alice := iss.AddUser("alice", "editor")
	g := newGuard(t, iss, nil)
	issuertest.WaitReady(t, g)
	if _, ok := guard.ClaimsFrom(context.Background()); ok {
		t.Fatal("ClaimsFrom found claims in an empty context")
	}
	var got *token.Claims
	h := g.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = guard.ClaimsFrom(r.Context())
	}))
	if w := call(h, iss.Login("alice", "notes:read").Access); w.Code != http.StatusOK {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	switch {
	case got == nil:
		t.Fatal("no claims in the handler's context")
	case got.Subject != alice.ID || !got.HasRole("editor") || !got.HasScope("notes:read") || got.SessionID == "" || got.Issuer != iss.URL:
		t.Errorf("claims = %+v, want alice's", got)
	}
}

// TestNestedMiddlewaresDecideOnce checks that a request through several
// middlewares of one guard is authenticated once, by the outermost: with
// the feed stale and the guard failing open, it is counted once.
func TestNestedMiddlewaresDecideOnce(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("root", "admin")
	g := newGuard(t, iss, func(c *guard.Config) { c.FailOpen = true })
	issuertest.WaitReady(t, g)
	access := iss.Login("root", "notes:write").Access
	iss.Stop()
	iss.Clock.Advance(2 * guard.DefaultFeedStaleAfter)
	issuertest.WaitFor(t, "the feed to go stale", func() bool { return !g.Ready() })

	h := g.Require(g.RequireRole("admin")(g.RequireScope("notes:write")(ok)))
	if w := call(h, access); w.Code != http.StatusOK {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	if s := g.Stats(); s.FailedOpen != 1 {
		t.Errorf("FailedOpen = %d after one request through three middlewares, want 1", s.FailedOpen)
	}
	inner := g.Require(g.RequireScope("notes:read")(ok))
	if w := call(inner, access); w.Code != http.StatusForbidden {
		t.Fatalf("missing scope, inner middleware: %d %q", w.Code, w.Body)
	}
	if s := g.Stats(); s.FailedOpen != 2 || s.Refused != 1 {
		t.Errorf("stats = %+v after a request refused by an inner middleware, want 2 failed open, 1 refused", s)
	}
}

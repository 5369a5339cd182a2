package guard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
)

// newGuard starts a guard for the "notes" audience of iss, on iss's clock,
// with its config changed by edit if it is not nil.
func newGuard(t *testing.T, iss *issuertest.Issuer, edit func(*guard.Config)) *guard.Guard {
	t.Helper()
	cfg := iss.GuardConfig("notes")
	if edit != nil {
		edit(&cfg)
	}
	g, err := guard.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// ok is the protected handler of every test.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// call sends GET / with the bearer token (none if empty) to h.
func call(h http.Handler, bearer string) *httptest.ResponseRecorder {
	return callWith(h, func(r *http.Request) {
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
	})
}

func callWith(h http.Handler, edit func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	edit(r)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestReadyAfterFirstCatchUp(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	access := iss.Login("alice", "").Access

	// The feed goes through a gate that holds every request until opened.
	open := make(chan struct{})
	target, _ := url.Parse(iss.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-open:
			proxy.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(gate.Close)
	g := newGuard(t, iss, func(c *guard.Config) { c.FeedURL = gate.URL + issuer.RevocationsPath })

	if g.Ready() {
		t.Fatal("Ready before the first catch-up")
	}
	w := call(g.Require(ok), access)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("before the first catch-up: %d %q, want 503 with Retry-After", w.Code, w.Body)
	}
	if s := g.Stats(); s.FailedClosed != 1 || s.Allowed != 0 {
		t.Errorf("stats = %+v, want one request failed closed", s)
	}

	close(open)
	issuertest.WaitReady(t, g)
	if !g.Ready() {
		t.Fatal("not Ready after the first catch-up")
	}
	if w := call(g.Require(ok), access); w.Code != http.StatusOK {
		t.Fatalf("after the first catch-up: %d %q", w.Code, w.Body)
	}
}

func TestStaleFeed(t *testing.T) {
	const staleAfter = 30 * time.Second
	for _, tc := range []struct {
		name     string
		failOpen bool
		want     int
		counted  func(guard.Stats) int64
	}{
		{"fail closed", false, http.StatusServiceUnavailable, func(s guard.Stats) int64 { return s.FailedClosed }},
		{"fail open", true, http.StatusOK, func(s guard.Stats) int64 { return s.FailedOpen }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := issuertest.Start(t, issuertest.Config{})
			iss.AddUser("alice")
			access := iss.Login("alice", "").Access
			g := newGuard(t, iss, func(c *guard.Config) { c.FeedStaleAfter, c.FailOpen = staleAfter, tc.failOpen })
			issuertest.WaitReady(t, g)
			h := g.Require(ok)
			if w := call(h, access); w.Code != http.StatusOK {
				t.Fatalf("with the feed up: %d %q", w.Code, w.Body)
			}

			iss.Stop()
			iss.Clock.Advance(staleAfter / 2)
			if !g.Ready() {
				t.Fatal("stale before FeedStaleAfter has passed")
			}
			iss.Clock.Advance(staleAfter)
			issuertest.WaitFor(t, "the guard to notice the feed is gone", func() bool { return !g.Ready() })

			w := call(h, access)
			if w.Code != tc.want {
				t.Fatalf("with the feed stale: %d %q, want %d", w.Code, w.Body, tc.want)
			}
			if !tc.failOpen && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if n := tc.counted(g.Stats()); n != 1 {
				t.Errorf("stats = %+v, want the stale request counted once", g.Stats())
			}
			// A request without a valid token is refused whatever the policy.
			if w := call(h, "not-a-token"); w.Code != http.StatusUnauthorized {
				t.Errorf("bad token with the feed stale: %d, want 401", w.Code)
			}
		})
	}
}

// TestKeyRemovedFromJWKSForgetsItsTokens checks that tokens verified with a
// key the issuer stops publishing no longer pass from the verified-token
// cache once the guard has refetched the key set.
func TestKeyRemovedFromJWKSForgetsItsTokens(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	g := newGuard(t, iss, nil)
	issuertest.WaitReady(t, g)
	h := g.Require(ok)
	old := iss.Login("alice", "").Access
	if w := call(h, old); w.Code != http.StatusOK {
		t.Fatalf("before: %d %q", w.Code, w.Body)
	}
	kid := iss.Ring.Keys()[0].ID
	if _, err := iss.Ring.Compromise(context.Background(), kid); err != nil {
		t.Fatal(err)
	}
	// A token of the replacement key makes the guard refetch the set (once
	// the cooldown for unknown keys has passed), and so find the old key gone.
	iss.Clock.Advance(time.Minute)
	fresh := iss.Login("alice", "").Access
	if w := call(h, fresh); w.Code != http.StatusOK {
		t.Fatalf("token of the new key: %d %q", w.Code, w.Body)
	}
	w := call(h, old)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "trusted issuer") {
		t.Fatalf("token of the removed key: %d %q, want 401 for an untrusted key", w.Code, w.Body)
	}
}

func TestRevocationReachesGuard(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		revoke func(iss *issuertest.Issuer, userID string, tok issuertest.Tokens) int
	}{
		{"logout", func(iss *issuertest.Issuer, _ string, tok issuertest.Tokens) int {
			status, _ := iss.Post(issuer.LogoutPath, nil, tok.Access)
			return status
		}},
		{"revoke access token", func(iss *issuertest.Issuer, _ string, tok issuertest.Tokens) int {
			status, _ := iss.Post(issuer.RevokePath, url.Values{"token": {tok.Access}}, "")
			return status
		}},
		{"revoke refresh token", func(iss *issuertest.Issuer, _ string, tok issuertest.Tokens) int {
			status, _ := iss.Post(issuer.RevokePath, url.Values{"token": {tok.Refresh}}, "")
			return status
		}},
		{"logout everywhere", func(iss *issuertest.Issuer, _ string, tok issuertest.Tokens) int {
			status, _ := iss.Post(issuer.LogoutAllPath, nil, tok.Access)
			return status
		}},
		{"user disabled", func(iss *issuertest.Issuer, userID string, _ issuertest.Tokens) int {
			if _, err := iss.Accounts.EndUser(ctx, userID, true, "user_disabled", ""); err != nil {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range issuertest.Engines {
				t.Run(e.Name, func(t *testing.T) {
					iss := issuertest.Start(t, issuertest.Config{Store: e.Open(t)})
					alice, _ := iss.AddUser("alice"), iss.AddUser("bob")
					g := newGuard(t, iss, nil)
					issuertest.WaitReady(t, g)
					h := g.Require(ok)
					tok, bystander := iss.Login("alice", ""), iss.Login("bob", "").Access
					for _, a := range []string{tok.Access, bystander} {
						if w := call(h, a); w.Code != http.StatusOK {
							t.Fatalf("before: %d %q", w.Code, w.Body)
						}
					}
					if status := tc.revoke(iss, alice.ID, tok); status >= 300 {
						t.Fatalf("revoking: status %d", status)
					}
					issuertest.WaitFor(t, "the revocation to reach the guard", func() bool {
						return call(h, tok.Access).Code == http.StatusUnauthorized
					})
					if w := call(h, tok.Access); !strings.Contains(w.Body.String(), "revoked") {
						t.Errorf("revoked token: %q, want the reason", w.Body)
					}
					if w := call(h, bystander); w.Code != http.StatusOK {
						t.Errorf("another user's token: %d %q", w.Code, w.Body)
					}
				})
			}
		})
	}
}

// TestStartsWhileIssuerIsDown: New returns a guard even when the issuer
// refuses connections; it answers 503 and says why until the issuer
// answers, then verifies.
func TestStartsWhileIssuerIsDown(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	access := iss.Login("alice", "").Access

	// Failure injection: connections are refused until up is set.
	var up atomic.Bool
	var dialer net.Dialer
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !up.Load() {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	g := newGuard(t, iss, func(c *guard.Config) { c.HTTPClient = client })
	if err := g.ReadyErr(); !errors.Is(err, guard.ErrNotReady) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("ReadyErr with the issuer down: %v", err)
	}
	w := call(g.Require(ok), access)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("with the issuer down: %d %q, want 503 with Retry-After", w.Code, w.Body)
	}

	up.Store(true)
	issuertest.WaitReady(t, g)
	if w := call(g.Require(ok), access); w.Code != http.StatusOK {
		t.Fatalf("once the issuer answers: %d %q", w.Code, w.Body)
	}
}

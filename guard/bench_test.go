package guard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/feed"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/token"
)

const (
	benchIssuer   = "https://issuer.test"
	benchAudience = "notes"
	// benchRevocations fills the guard's denylist, so that every request
	// is checked against a list of realistic size rather than an empty one.
	benchRevocations = 1000
)

// BenchmarkMiddleware serves one request with the same handler, without
// authentication (open) and behind Guard.Require (guarded), so that one run
// shows what the guard adds to a request:
//
//	go test ./guard/ -run '^$' -bench BenchmarkMiddleware -benchmem -count 6 > bench.txt
//	benchstat -col /route bench.txt
//
// guarded sends the same token every time, as one client does between
// refreshes: after the first request it is a hit in the verifier's cache,
// plus the denylist check and the feed-health check. guarded-cold sends a
// token never seen before on every request, so each one pays the full
// verification (EdDSA), and the cache fills and evicts as under a flood of
// distinct tokens.
//
// The guard follows a revocation feed (a loopback server holding an SSE
// stream open, after a catch-up page of benchRevocations entries), so the
// middleware takes the same path it takes in a service.
func BenchmarkMiddleware(b *testing.B) {
	key, err := jwk.Generate(jwk.EdDSA, nil)
	if err != nil {
		b.Fatal(err)
	}
	g := benchGuard(b, key)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	routes := []struct {
		name    string
		handler http.Handler
		cold    bool // a fresh token on every request
	}{
		{"open", handler, false},
		{"guarded", g.Require(handler), false},
		{"guarded-cold", g.Require(handler), true},
	}
	for _, rt := range routes {
		b.Run("route="+rt.name, func(b *testing.B) {
			// The middleware never changes the request, so one request
			// serves every iteration, unless each needs its own token.
			n := 1
			if rt.cold {
				n = b.N + 1
			}
			reqs := make([]*http.Request, n)
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodGet, "/notes", nil)
				reqs[i].Header.Set("Authorization", "Bearer "+mintBench(b, key))
			}
			// The last request, served first and outside the timer,
			// checks that the route answers 200; a repeated token enters
			// the cache as its first use would put it there.
			if w := serve(rt.handler, reqs[n-1]); w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := reqs[0]
				if rt.cold {
					r = reqs[i]
				}
				if w := serve(rt.handler, r); w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// mintBench mints a fresh valid token: its own jti, so never a cache hit.
func mintBench(b *testing.B, key *jwk.PrivateKey) string {
	b.Helper()
	now := time.Now().Truncate(time.Second)
	raw, err := token.Mint(key, &token.Claims{
		Issuer: benchIssuer, Subject: "user-1", Audience: []string{benchIssuer, benchAudience},
		IssuedAt: now, Expiry: now.Add(10 * time.Minute), ID: token.NewID(), ClientID: "web",
		SessionID: "session-1", Scope: "notes:read", Roles: []string{"member"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// benchGuard starts a guard with key in a static key set, following a
// loopback revocation feed that lists benchRevocations other tokens.
func benchGuard(b *testing.B, key *jwk.PrivateKey) *guard.Guard {
	b.Helper()
	full := feed.Page{Cursor: benchRevocations}
	exp := time.Now().Add(time.Hour).Unix()
	for i := range benchRevocations {
		full.Revocations = append(full.Revocations, feed.Entry{Cursor: int64(i + 1), Kind: "jti", Digest: waxseal.RevokeToken.Digest(token.NewID()), Expires: exp})
	}
	page, err := json.Marshal(full)
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" {
			if r.URL.Query().Get("after") == "0" {
				w.Write(page)
			} else {
				fmt.Fprintf(w, `{"revocations":[],"cursor":%d,"more":false}`, benchRevocations)
			}
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 2000\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	b.Cleanup(func() { close(stop); feedSrv.Close() })

	g, err := guard.New(context.Background(), guard.Config{
		Issuer: benchIssuer, Audience: benchAudience,
		InsecureNoRevocation: true,
		Keys:                 keyset.NewStatic(&jwk.Set{Keys: []*jwk.PublicKey{key.Public()}}),
		FeedURL:              feedSrv.URL + "/v1/revocations",
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	if n := g.Stats().Revocations; n != benchRevocations {
		b.Fatalf("denylist holds %d entries, want %d", n, benchRevocations)
	}
	return g
}

package issuer_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

// countingStore counts reads of the revocation log.
type countingStore struct {
	waxseal.Store
	reads atomic.Int64
}

func (c *countingStore) Revocations(ctx context.Context, after int64, limit int, now time.Time) ([]waxseal.Revocation, error) {
	c.reads.Add(1)
	return c.Store.Revocations(ctx, after, limit, now)
}

// TestFeedFansOut: however many streams are open, a new entry costs a few
// reads of the log, not one per stream: the streams answer from what the
// issuer's one reader found.
func TestFeedFansOut(t *testing.T) {
	const streams = 50
	forEachEngine(t, func(t *testing.T, eng engine) {
		store := &countingStore{Store: eng.open(t)}
		e := newEnv(t, store, nil)
		e.addUser("alice", testPassword)
		var ss []*stream
		for range streams {
			ss = append(ss, openStream(t, e.http.URL, 0))
		}
		time.Sleep(200 * time.Millisecond) // let every stream reach its wait
		before := store.reads.Load()
		at, _ := e.mustLogin("alice", testPassword)
		if r := e.postForm(issuer.LogoutPath, nil, at); r.Status != http.StatusNoContent {
			t.Fatal(r.Raw)
		}
		for _, s := range ss {
			s.next(t, 1)
		}
		if reads := store.reads.Load() - before; reads >= streams/2 {
			t.Errorf("one revocation to %d streams cost %d reads of the log", streams, reads)
		}
	})
}

// openStreamFrom opens an SSE stream as client addr (X-Forwarded-For from a
// trusted proxy) and returns its status and Retry-After; a stream that
// opened is closed when the test ends, or by calling close.
func openStreamFrom(t *testing.T, e *env, addr string) (status int, retryAfter string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+issuer.RevocationsPath, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return resp.StatusCode, resp.Header.Get("Retry-After"), func() {}
	}
	closed := make(chan struct{})
	go func() { // hold the stream open, reading what comes
		defer close(closed)
		buf := make([]byte, 512)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				return
			}
		}
	}()
	stop = func() { cancel(); resp.Body.Close(); <-closed }
	t.Cleanup(stop)
	return resp.StatusCode, "", stop
}

// TestFeedStreamCaps: streams are capped per client address and in all;
// beyond either cap the feed answers 503 with Retry-After, and a closed
// stream frees its slot.
func TestFeedStreamCaps(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) {
		c.Limits.TrustedProxies = loopbackProxies
		c.FeedMaxStreams, c.FeedMaxStreamsPerClient = 3, 2
	})
	wantStatus := func(addr string, want int) func() {
		t.Helper()
		status, retry, stop := openStreamFrom(t, e, addr)
		if status != want || (want == http.StatusServiceUnavailable && retry == "") {
			t.Fatalf("stream from %s: %d (Retry-After %q), want %d", addr, status, retry, want)
		}
		return stop
	}
	first := wantStatus("192.0.2.1", http.StatusOK)
	wantStatus("192.0.2.1", http.StatusOK)
	wantStatus("192.0.2.1", http.StatusServiceUnavailable) // per client
	wantStatus("192.0.2.2", http.StatusOK)
	wantStatus("192.0.2.3", http.StatusServiceUnavailable) // in all
	first()
	waitUntil(t, "the closed stream's slot to free", func() bool {
		status, _, stop := openStreamFrom(t, e, "192.0.2.3")
		stop()
		return status == http.StatusOK
	})
	// JSON pages are not streams: never capped.
	if r := e.get(issuer.RevocationsPath, ""); r.Status != http.StatusOK {
		t.Errorf("page beside full streams: %d", r.Status)
	}
}

// TestFeedHandsOutNoIDs: the public feed names revoked tokens, sessions
// and users by digests a verifier computes from the token it holds, never
// by their IDs, in pages and in the stream.
func TestFeedHandsOutNoIDs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		u := e.addUser("alice", testPassword)
		s := openStream(t, e.http.URL, 0)
		at, _ := e.mustLogin("alice", testPassword)
		info := e.get(issuer.UserinfoPath, at)
		jti, _ := unverifiedIDs(t, at)
		secrets := []string{u.ID, info.str("sid"), jti}
		if r := e.postForm(issuer.RevokePath, url.Values{"token": {at}}, ""); r.Status != http.StatusOK {
			t.Fatal(r.Raw)
		}
		at2, _ := e.mustLogin("alice", testPassword)
		secrets = append(secrets, e.get(issuer.UserinfoPath, at2).str("sid"))
		if r := e.postForm(issuer.LogoutAllPath, nil, at2); r.Status != http.StatusNoContent {
			t.Fatal(r.Raw)
		}
		page := e.get(issuer.RevocationsPath, "")
		var streamed strings.Builder
		for _, entry := range s.next(t, 2) {
			streamed.Write(entry.Marshal())
		}
		for _, id := range secrets {
			if strings.Contains(page.Raw, id) || strings.Contains(streamed.String(), id) {
				t.Errorf("the feed hands out %q:\npage %s\nstream %s", id, page.Raw, streamed.String())
			}
		}
		if !strings.Contains(page.Raw, waxseal.RevokeToken.Digest(jti)) || !strings.Contains(page.Raw, waxseal.RevokeSubject.Digest(u.ID)) {
			t.Errorf("the feed lacks the digests of the revoked token and user: %s", page.Raw)
		}
	})
}

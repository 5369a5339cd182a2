package issuer_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/waxseal/waxseal/feed"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
)

// stream follows an issuer's revocation feed over SSE, from a cursor.
type stream struct {
	events chan feed.Entry
	errs   chan error
	cancel context.CancelFunc
}

func openStream(t *testing.T, base string, lastEventID int64) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+issuer.RevocationsPath, nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastEventID, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{events: make(chan feed.Entry, 1000), errs: make(chan error, 1), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		er := feed.NewEventReader(resp.Body)
		for {
			ev, err := er.Next()
			if err != nil {
				s.errs <- err
				return
			}
			if ev.Type != feed.EventType {
				continue
			}
			e, err := feed.ParseEntry([]byte(ev.Data))
			if err != nil || strconv.FormatInt(e.Cursor, 10) != ev.ID {
				s.errs <- err
				return
			}
			s.events <- e
		}
	}()
	t.Cleanup(cancel)
	return s
}

// next returns the next n entries, failing the test if they do not come.
func (s *stream) next(t *testing.T, n int) []feed.Entry {
	t.Helper()
	var out []feed.Entry
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e := <-s.events:
			out = append(out, e)
		case err := <-s.errs:
			t.Fatalf("stream ended after %d of %d events: %v", len(out), n, err)
		case <-deadline:
			t.Fatalf("only %d of %d events arrived", len(out), n)
		}
	}
	return out
}

// quiet fails the test if an event arrives within a short wait: used after
// everything expected has been read, to catch duplicates.
func (s *stream) quiet(t *testing.T) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("unexpected extra event %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// revokeSessions logs in and revokes n times, returning the session IDs in
// revocation order.
func revokeSessions(t *testing.T, e *env, n int) []string {
	t.Helper()
	var sids []string
	for range n {
		at, _ := e.mustLogin("alice", testPassword)
		info := e.get(issuer.UserinfoPath, at)
		sids = append(sids, info.str("sid"))
		if r := e.postForm(issuer.RevokePath, url.Values{"token": {at}}, ""); r.Status != http.StatusOK {
			t.Fatal(r.Raw)
		}
		if _, err := e.acct.EndSession(context.Background(), info.str("sid"), "revoked", ""); err != nil {
			t.Fatal(err)
		}
	}
	return sids
}

func checkOrdered(t *testing.T, entries []feed.Entry, after int64) {
	t.Helper()
	for i, e := range entries {
		if e.Cursor <= after || (i > 0 && e.Cursor != entries[i-1].Cursor+1) {
			t.Fatalf("entry %d has cursor %d after %d: not once and in order", i, e.Cursor, after)
		}
	}
}

func TestFeedResumes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)

		s := openStream(t, e.http.URL, 0)
		revokeSessions(t, e, 3) // a jti and a sid entry each: 6 entries
		first := s.next(t, 6)
		checkOrdered(t, first, 0)
		s.cancel()

		// Revocations while disconnected arrive after resuming, each once.
		revokeSessions(t, e, 2)
		resumed := openStream(t, e.http.URL, first[3].Cursor)
		rest := resumed.next(t, 2+4)
		checkOrdered(t, rest, first[3].Cursor)
		resumed.quiet(t)

		// The JSON pages agree with the stream.
		all := e.revocations()
		if len(all) != 10 {
			t.Fatalf("feed pages have %d entries, want 10", len(all))
		}
		r := e.get(issuer.RevocationsPath+"?after=2&limit=3", "")
		if got := r.Body["revocations"].([]any); len(got) != 3 || r.Body["more"] != true || r.Body["cursor"].(float64) != 5 {
			t.Errorf("page after=2 limit=3: %s", r.Raw)
		}
		for _, bad := range []string{"?after=-1", "?after=x", "?limit=0", "?limit=100000"} {
			if r := e.get(issuer.RevocationsPath+bad, ""); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", bad, r.Status)
			}
		}
	})
}

func TestFeedAcrossInstances(t *testing.T) {
	url := pgtest.URL(t)
	eng := postgresEngine(func(testing.TB) string { return url })
	clk := issuertest.NewClock()
	a := newEnv(t, eng.open(t), clk)
	b := newEnv(t, eng.open(t), clk)
	a.addUser("alice", testPassword)

	sb := openStream(t, b.http.URL, 0)
	sa := openStream(t, a.http.URL, 0)
	revokeSessions(t, a, 2)
	revokeSessions(t, b, 2)
	fromB, fromA := sb.next(t, 8), sa.next(t, 8)
	checkOrdered(t, fromB, 0)
	checkOrdered(t, fromA, 0)
	for i := range fromA {
		if fromA[i] != fromB[i] {
			t.Fatalf("instances disagree at %d: %+v vs %+v", i, fromA[i], fromB[i])
		}
	}
	sa.quiet(t)
	sb.quiet(t)

	// A token revoked through one instance is refused by the other.
	at, _ := a.mustLogin("alice", testPassword)
	if !b.works(at) {
		t.Fatal("instance b refuses a token of instance a")
	}
	if r := a.postForm(issuer.LogoutPath, nil, at); r.Status != http.StatusNoContent {
		t.Fatal(r.Raw)
	}
	if !b.refusedSoon(at) {
		t.Fatal("instance b still accepts a token logged out through instance a")
	}
}

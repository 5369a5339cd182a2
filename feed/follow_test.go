package feed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/feed"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeLog serves an in-memory revocation log the way the issuer does: JSON
// pages of at most pageSize entries, and an SSE stream from Last-Event-ID.
// Its stream replays the entry at Last-Event-ID, as a server that resumes
// one entry early may, so that a follower must skip what it already has.
type fakeLog struct {
	pageSize int

	mu      sync.Mutex
	entries []feed.Entry  // guarded by mu; cursors 1, 2, 3, …
	grown   chan struct{} // guarded by mu; closed and replaced by add
	afters  []int64       // guarded by mu; the "after" of every page request
}

func newFakeLog(pageSize int) *fakeLog {
	return &fakeLog{pageSize: pageSize, grown: make(chan struct{})}
}

func (l *fakeLog) add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		c := int64(len(l.entries) + 1)
		l.entries = append(l.entries, feed.Entry{Cursor: c, Kind: string(waxseal.RevokeToken),
			Digest: waxseal.RevokeToken.Digest("jti-" + strconv.FormatInt(c, 10)), Expires: time.Now().Add(time.Hour).Unix()})
	}
	close(l.grown)
	l.grown = make(chan struct{})
}

func (l *fakeLog) len() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.entries))
}

// after returns the entries after cursor and a channel closed when more come.
func (l *fakeLog) after(cursor int64) ([]feed.Entry, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries[min(cursor, int64(len(l.entries))):]), l.grown
}

func (l *fakeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") == "text/event-stream" {
		l.stream(w, r)
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	l.mu.Lock()
	l.afters = append(l.afters, after)
	l.mu.Unlock()
	entries, _ := l.after(after)
	page := feed.Page{Revocations: entries, Cursor: after}
	if len(entries) > l.pageSize {
		page.Revocations, page.More = entries[:l.pageSize], true
	}
	if n := len(page.Revocations); n > 0 {
		page.Cursor = page.Revocations[n-1].Cursor
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(page)
}

func (l *fakeLog) stream(w http.ResponseWriter, r *http.Request) {
	cursor, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	cursor = max(0, cursor-1) // the replay
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	for {
		entries, grown := l.after(cursor)
		for _, e := range entries {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Cursor, feed.EventType, e.Marshal())
			cursor = e.Cursor
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-grown:
		case <-r.Context().Done():
			return
		}
	}
}

// recorder records the cursors a follower applies, in order.
type recorder struct {
	mu      sync.Mutex
	cursors []int64       // guarded by mu
	more    chan struct{} // a token after each apply
}

func (a *recorder) apply(rs []waxseal.Revocation) {
	a.mu.Lock()
	for _, r := range rs {
		a.cursors = append(a.cursors, r.Cursor)
	}
	a.mu.Unlock()
	select {
	case a.more <- struct{}{}:
	default:
	}
}

func (a *recorder) list() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.cursors)
}

// waitFor waits until the entry with cursor c has been applied.
func (a *recorder) waitFor(t *testing.T, c int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !slices.Contains(a.list(), c) {
		select {
		case <-a.more:
		case <-deadline:
			t.Fatalf("entry %d not applied within 10s; applied %v", c, a.list())
		}
	}
}

// follow runs a follower until the test ends.
func follow(t *testing.T, cfg feed.FollowerConfig) (*feed.Follower, *recorder) {
	t.Helper()
	a := &recorder{more: make(chan struct{}, 1)}
	cfg.Apply, cfg.Logger = a.apply, quiet
	f, err := feed.NewFollower(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, a
}

// TestFollowerAppliesEachEntryOnceInOrder cuts the follower's stream again
// and again, with entries appended while it is connected and while it is
// not, and checks that it applies every entry exactly once, in order,
// resuming from its cursor rather than from the start.
func TestFollowerAppliesEachEntryOnceInOrder(t *testing.T) {
	log := newFakeLog(2)
	log.add(5)
	srv := httptest.NewServer(log)
	t.Cleanup(srv.Close)
	f, rec := follow(t, feed.FollowerConfig{URL: srv.URL, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})

	select {
	case <-f.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no first catch-up")
	}
	const rounds = 5
	for range rounds {
		log.add(3)
		rec.waitFor(t, log.len())
		srv.CloseClientConnections()
		log.add(2)                // while cut, or on the new stream
		rec.waitFor(t, log.len()) // after a reconnect
	}

	want := make([]int64, log.len())
	for i := range want {
		want[i] = int64(i + 1)
	}
	if got := rec.list(); !slices.Equal(got, want) {
		t.Errorf("applied %v, want %v: each entry once, in order", got, want)
	}
	log.mu.Lock()
	afters := slices.Clone(log.afters)
	log.mu.Unlock()
	if !slices.IsSorted(afters) || len(afters) < rounds || slices.Index(afters[1:], 0) >= 0 {
		t.Errorf("page requests after %v: want one from the start, then each from the follower's cursor", afters)
	}
}

// TestFollowerBacksOff checks that a follower whose issuer keeps failing
// waits longer and longer between attempts: however many verifiers follow
// one issuer, a failing issuer is not flooded.
func TestFollowerBacksOff(t *testing.T) {
	const (
		minBackoff = 10 * time.Millisecond
		maxBackoff = 200 * time.Millisecond
		running    = 800 * time.Millisecond
	)
	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter, r *http.Request)
	}{
		{"every request fails", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}},
		{"stream refused", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept") == "text/event-stream" {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, `{"revocations":[],"cursor":0,"more":false}`)
		}},
		{"not a feed", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attempts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") != "text/event-stream" {
					attempts.Add(1) // every attempt starts with a page
				}
				tc.fail(w, r)
			}))
			t.Cleanup(srv.Close)
			f, err := feed.NewFollower(feed.FollowerConfig{URL: srv.URL, Apply: func([]waxseal.Revocation) {},
				MinBackoff: minBackoff, MaxBackoff: maxBackoff, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), running)
			defer cancel()
			start := time.Now()
			f.Run(ctx)
			elapsed := time.Since(start)

			// Attempt k+1 comes at least half of min(minBackoff·2^k,
			// maxBackoff) after attempt k (the jitter takes off at most half).
			bound, waited := int64(1), time.Duration(0)
			for b := minBackoff; ; b = min(2*b, maxBackoff) {
				if waited += b / 2; waited > elapsed {
					break
				}
				bound++
			}
			if n := attempts.Load(); n < 2 || n > bound {
				t.Errorf("%d attempts in %v, want 2 to %d", n, elapsed, bound)
			}
		})
	}
}

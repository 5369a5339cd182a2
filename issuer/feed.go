package issuer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waxseal/waxseal/feed"
)

const (
	feedPageLimit = 1000
	feedHeartbeat = 15 * time.Second
	// feedPoll bounds how long a missed wake can delay the issuer's own
	// denylist and the streams: the database is read at least this often.
	feedPoll = 30 * time.Second
)

// broadcaster wakes every waiter at once. A waiter takes the channel before
// it reads the log, so a wake between the read and the wait is not lost.
type broadcaster struct {
	mu      sync.Mutex
	ch      chan struct{} // guarded by mu; closed and replaced by wake
	stopped chan struct{} // closed by stop
	once    sync.Once
}

func newBroadcaster() *broadcaster {
	return &broadcaster{ch: make(chan struct{}), stopped: make(chan struct{})}
}

func (b *broadcaster) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcaster) wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

func (b *broadcaster) stop() { b.once.Do(func() { close(b.stopped) }) }

// StopStreams ends every open feed stream, so that a graceful shutdown is
// not held up by clients that never go idle. They resume on another
// instance from their last event ID.
func (s *Server) StopStreams() { s.feed.stop() }

// CatchUp applies the whole revocation log to the issuer's own denylist.
// Call it before serving, so that the issuer never accepts a token its
// guards reject.
//
// It is also the issuer's one reader of the log: what it reads goes into
// the in-memory tail that every feed stream answers from.
func (s *Server) CatchUp(ctx context.Context) error {
	s.catchUp.Lock()
	defer s.catchUp.Unlock()
	for {
		page, err := s.store.Revocations(ctx, s.denied.Cursor(), feedPageLimit, s.now())
		if err != nil {
			return fmt.Errorf("issuer: reading revocation log: %w", err)
		}
		s.denied.Apply(page...)
		s.tail.add(page)
		if len(page) < feedPageLimit {
			return nil
		}
	}
}

// changed is called when the store says the revocation log or the signing
// keys may have changed: it wakes the log's readers and the key reloader.
func (s *Server) changed() {
	s.feed.wake()
	select {
	case s.keysChanged <- struct{}{}:
	default: // a reload is already due
	}
}

// followKeys reloads the signing keys whenever the store says they may
// have changed, so that a key compromised or rotated by another instance or
// the command line stops (or starts) signing here within moments, not at
// the next maintenance.
func (s *Server) followKeys(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.keysChanged:
			if err := s.keys.Reload(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "reloading signing keys", "err", err)
			}
		}
	}
}

// followLog keeps the issuer's denylist current and wakes the feed's
// streams whenever the log may have grown, on this instance or another.
func (s *Server) followLog(ctx context.Context) {
	go func() {
		backoff := time.Second
		for ctx.Err() == nil {
			err := s.store.WatchRevocations(ctx, s.changed)
			if ctx.Err() != nil {
				return
			}
			s.log.WarnContext(ctx, "watching the revocation log failed; retrying", "err", err, "in", backoff)
			s.changed() // read once in case something was missed
			select {
			case <-time.After(backoff + rand.N(backoff/2)):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}()
	for {
		wait := s.feed.wait()
		if err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "following the revocation log", "err", err)
		}
		select {
		case <-wait:
		case <-time.After(feedPoll):
		case <-ctx.Done():
			return
		}
	}
}

// handleRevocations serves the revocation log after a cursor: a JSON page,
// or with Accept: text/event-stream an SSE stream that resumes from
// Last-Event-ID.
func (s *Server) handleRevocations(w http.ResponseWriter, r *http.Request) error {
	after, err := cursorParam(r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			if after, err = cursorParam(id); err != nil {
				return err
			}
		}
		release, err := s.streams.acquire(s.ip(r))
		if err != nil {
			s.metrics.streamsRefused.Inc()
			return tooManyStreams()
		}
		defer release()
		return s.streamRevocations(w, r, after)
	}
	limit := feedPageLimit
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > feedPageLimit {
			return invalidRequest("limit must be 1 to %d", feedPageLimit)
		}
		limit = n
	}
	entries, err := s.store.Revocations(r.Context(), after, limit, s.now())
	if err != nil {
		return err
	}
	page := feed.Page{Revocations: make([]feed.Entry, 0, len(entries)), Cursor: after, More: len(entries) == limit}
	for _, e := range entries {
		page.Revocations = append(page.Revocations, feed.FromRevocation(e))
		page.Cursor = e.Cursor
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page)
	return nil
}

func cursorParam(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, invalidRequest("a cursor is a non-negative integer")
	}
	return n, nil
}

func (s *Server) streamRevocations(w http.ResponseWriter, r *http.Request, cursor int64) error {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	// send writes and flushes; a client that stops reading is dropped
	// after the deadline rather than holding a goroutine for ever.
	send := func(text string) bool {
		rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := w.Write([]byte(text)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 2000\n\n") {
		return nil
	}
	heartbeat := time.NewTicker(feedHeartbeat)
	defer heartbeat.Stop()
	for {
		wait := s.tail.changed.wait()
		entries, ok := s.tail.after(cursor, feedPageLimit, s.now())
		if !ok { // further behind than memory reaches
			var err error
			if entries, err = s.store.Revocations(ctx, cursor, feedPageLimit, s.now()); err != nil {
				s.log.WarnContext(ctx, "revocation stream: reading the log", "err", err)
				return nil // the client reconnects, perhaps to another instance
			}
		}
		var b strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&b, "id: %d\nevent: %s\ndata: %s\n\n", e.Cursor, feed.EventType, feed.FromRevocation(e).Marshal())
			cursor = e.Cursor
		}
		if b.Len() > 0 && !send(b.String()) {
			return nil
		}
		if len(entries) == feedPageLimit {
			continue
		}
		select {
		case <-wait:
		case <-heartbeat.C:
			if !send(": keep-alive\n\n") {
				return nil
			}
		case <-s.feed.stopped:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

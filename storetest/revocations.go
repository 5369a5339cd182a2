package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

func mustAppend(t *testing.T, s waxseal.Store, r waxseal.Revocation) *waxseal.Revocation {
	t.Helper()
	got, err := s.AppendRevocation(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testRevocations(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	in := []waxseal.Revocation{
		revocation(waxseal.RevokeToken, "jti-1", t0),
		revocation(waxseal.RevokeSession, "s1", t0),
		{Kind: waxseal.RevokeSubject, Value: "id-alice", NotBefore: t0.Add(-time.Second), Created: t0, Expires: t0.Add(time.Hour)},
		revocation(waxseal.RevokeKey, "kid-1", t0),
		revocation(waxseal.RevokeToken, "jti-2", t0),
	}
	var want []waxseal.Revocation
	for _, r := range in {
		got := mustAppend(t, s, r)
		if len(want) > 0 && got.Cursor <= want[len(want)-1].Cursor {
			t.Errorf("cursor %d after %d", got.Cursor, want[len(want)-1].Cursor)
		}
		r.Cursor = got.Cursor
		same(t, "appended", got, &r)
		want = append(want, r)
	}

	all, err := s.Revocations(ctx, 0, 100, t0)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Revocations(0, 100)", all, want)

	// Paging by cursor.
	var paged []waxseal.Revocation
	for after := int64(0); ; {
		page, err := s.Revocations(ctx, after, 2, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d entries, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Cursor
	}
	same(t, "paged", paged, want)
	page, err := s.Revocations(ctx, want[1].Cursor, 2, t0)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Revocations(second, 2)", page, want[2:4])
}

func testRevocationsExpire(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	short := mustAppend(t, s, waxseal.Revocation{Kind: waxseal.RevokeToken, Value: "short", Created: t0, Expires: t0.Add(time.Hour)})
	long := mustAppend(t, s, waxseal.Revocation{Kind: waxseal.RevokeToken, Value: "long", Created: t0, Expires: t0.Add(3 * time.Hour)})
	last := mustAppend(t, s, waxseal.Revocation{Kind: waxseal.RevokeToken, Value: "last", Created: t0, Expires: t0.Add(time.Hour)})

	read := func(now time.Time, want ...*waxseal.Revocation) {
		t.Helper()
		got, err := s.Revocations(ctx, 0, 10, now)
		if err != nil {
			t.Fatal(err)
		}
		var w []waxseal.Revocation
		for _, r := range want {
			w = append(w, *r)
		}
		same(t, fmt.Sprint("Revocations at ", now), got, w)
	}
	// An entry expires after its Expires instant, not at it.
	read(t0.Add(time.Hour), short, long, last)
	read(t0.Add(time.Hour+time.Microsecond), long)

	n, err := s.PruneRevocations(ctx, t0.Add(time.Hour))
	if err != nil || n != 0 {
		t.Errorf("PruneRevocations at the expiry instant = %d, %v; want 0", n, err)
	}
	n, err = s.PruneRevocations(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("PruneRevocations = %d, %v; want 2", n, err)
	}
	read(t0, long)

	// The pruned entry had the highest cursor; it is not handed out again.
	next := mustAppend(t, s, revocation(waxseal.RevokeToken, "next", t0))
	if next.Cursor <= last.Cursor {
		t.Errorf("cursor %d after pruning, was already at %d", next.Cursor, last.Cursor)
	}
}

// testTail appends from many goroutines, through both stores and every
// method that appends, while a reader follows the log through b the way
// a verifier does: from the last cursor it saw. It must see every entry
// exactly once, in order: an entry that became visible only after a
// higher cursor was read would be skipped for ever.
func testTail(t *testing.T, a, b waxseal.Store) {
	const writers, each = 8, 25
	ctx := t.Context()
	for w := range writers {
		mustCreateUser(t, a, newUser(fmt.Sprint("user", w)))
	}

	var (
		mu       sync.Mutex
		appended = map[int64]bool{} // guarded by mu
		wg       sync.WaitGroup
	)
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range each {
				var r *waxseal.Revocation
				var err error
				switch i % 5 {
				case 4:
					r, err = s.EndSessions(ctx, waxseal.EndParams{UserID: fmt.Sprint("id-user", w), Now: t0, Reason: "test",
						Revocation: revocation(waxseal.RevokeSubject, fmt.Sprint("id-user", w), t0)})
				case 2:
					id := fmt.Sprintf("client-%d-%d", w, i)
					if err = s.CreateClient(ctx, newClient(id)); err == nil {
						r, err = s.DeleteClient(ctx, id, revocation(waxseal.RevokeSubject, id, t0))
					}
				default:
					r, err = s.AppendRevocation(ctx, revocation(waxseal.RevokeToken, fmt.Sprintf("jti-%d-%d", w, i), t0))
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				appended[r.Cursor] = true
				mu.Unlock()
			}
		})
	}

	seen := map[int64]bool{}
	var after int64
	readAll := func() {
		for {
			page, err := b.Revocations(ctx, after, 7, t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				return
			}
			for _, r := range page {
				if r.Cursor <= after {
					t.Fatalf("cursor %d after %d", r.Cursor, after)
				}
				if seen[r.Cursor] {
					t.Fatalf("cursor %d seen twice", r.Cursor)
				}
				seen[r.Cursor] = true
				after = r.Cursor
			}
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		readAll()
	}
	readAll()
	if t.Failed() {
		return
	}
	if len(appended) != writers*each {
		t.Fatalf("%d distinct cursors for %d appends", len(appended), writers*each)
	}
	for c := range appended {
		if !seen[c] {
			t.Errorf("the reader skipped cursor %d", c)
		}
	}
	if len(seen) != len(appended) {
		t.Errorf("the reader saw %d entries, %d were appended", len(seen), len(appended))
	}
}

// watch runs s.WatchRevocations until the test ends, and returns its wakes
// and, once it has returned, its error.
func watch(t *testing.T, s waxseal.Store) (wakes <-chan struct{}, stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- s.WatchRevocations(ctx, func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
	}()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("WatchRevocations did not return after its context ended")
		}
	})
	t.Cleanup(func() { stop() })
	return ch, stop
}

// follower reads the log only when woken, as a verifier's feed does.
type follower struct {
	s     waxseal.Store
	wakes <-chan struct{}
	after int64
}

// await waits until a wake lets it read an entry with value.
func (f *follower) await(t *testing.T, value string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case <-f.wakes:
		case <-timeout:
			t.Fatalf("no wake let the watcher see %s", value)
		}
		page, err := f.s.Revocations(t.Context(), f.after, 100, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			f.after = r.Cursor
			if r.Value == value {
				return
			}
		}
	}
}

// started appends through s until the watcher wakes, so that it surely
// runs before what the test checks.
func (f *follower) started(t *testing.T, s waxseal.Store) {
	t.Helper()
	for i := 0; ; i++ {
		mustAppend(t, s, revocation(waxseal.RevokeToken, fmt.Sprint("warm-up ", i), t0))
		select {
		case <-f.wakes:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i == 100 {
			t.Fatal("WatchRevocations never woke")
		}
	}
}

func testWatch(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	wakes, stop := watch(t, s)
	f := &follower{s: s, wakes: wakes}
	f.started(t, s)

	mustAppend(t, s, revocation(waxseal.RevokeToken, "appended", t0))
	f.await(t, "appended")

	mustCreateUser(t, s, newUser("alice"))
	mustCreateSession(t, s, newSession("s1", "id-alice", t0), "r0")
	if _, err := s.EndSessions(ctx, waxseal.EndParams{SessionID: "s1", Now: t0, Reason: "logout",
		Revocation: revocation(waxseal.RevokeSession, "ended", t0)}); err != nil {
		t.Fatal(err)
	}
	f.await(t, "ended")

	mustCreateSession(t, s, newSession("s2", "id-alice", t0), "r1")
	rotate(t, s, rotation("r1", "r2", t0), waxseal.Rotated, "")
	rotate(t, s, rotation("r1", "r3", t0.Add(grace+time.Second)), waxseal.Reused, "")
	f.await(t, "s2")

	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("WatchRevocations returned %v, want context.Canceled", err)
	}
}

// testWatchOther watches through b for appends through a, as one issuer
// instance learns of another's revocations.
func testWatchOther(t *testing.T, a, b waxseal.Store) {
	wakes, _ := watch(t, b)
	f := &follower{s: b, wakes: wakes}
	f.started(t, a)
	for i := range 3 {
		value := fmt.Sprint("appended ", i)
		mustAppend(t, a, revocation(waxseal.RevokeToken, value, t0))
		f.await(t, value)
	}
}

// testWatchWakesAtStart checks that a watch wakes once when it starts: an
// append committed between a reader's last read and its watch taking
// effect would otherwise wait for the next append, however late.
func testWatchWakesAtStart(t *testing.T, s waxseal.Store) {
	mustAppend(t, s, revocation(waxseal.RevokeToken, "before the watch", t0))
	wakes, _ := watch(t, s)
	select {
	case <-wakes:
	case <-time.After(10 * time.Second):
		t.Fatal("WatchRevocations did not wake at its start")
	}
}

// testPolicyLifetime: entries are sized by the longest token lifetime an
// issuer announced, not by what their writer asked; the lifetime only
// grows.
func testPolicyLifetime(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	if err := s.NoteTokenLifetime(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteTokenLifetime(ctx, 10*time.Minute); err != nil { // a second server, or an old one
		t.Fatal(err)
	}
	short := mustAppend(t, s, waxseal.Revocation{Kind: waxseal.RevokeSubject, Value: "u", NotBefore: now,
		Created: now, Expires: now.Add(15 * time.Minute)})
	if want := now.Add(time.Hour + token.MaxLeeway); short.Expires.Before(want) {
		t.Errorf("an entry asked for 15 min expires at +%v; want at least +%v", short.Expires.Sub(now), want.Sub(now))
	}
	long := mustAppend(t, s, waxseal.Revocation{Kind: waxseal.RevokeToken, Value: "j", Created: now, Expires: now.Add(3 * time.Hour)})
	if !long.Expires.Equal(now.Add(3 * time.Hour)) {
		t.Errorf("an entry asked for 3 h expires at +%v", long.Expires.Sub(now))
	}
	key := mustAppend(t, s, waxseal.Revocation{Kind: waxseal.RevokeKey, Value: "k", Created: now, Expires: now.Add(time.Hour)})
	if !key.Expires.Equal(now.Add(2 * time.Hour)) {
		t.Errorf("a key entry asked for 1 h expires at +%v; want the token lifetime on top, +2h", key.Expires.Sub(now))
	}
	got, err := s.Revocations(ctx, 0, 10, now.Add(time.Hour))
	if err != nil || len(got) != 3 {
		t.Errorf("entries read back an hour later: %d, %v; want all 3", len(got), err)
	}
}

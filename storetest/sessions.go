package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

func testSessions(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	alice, bob := newUser("alice"), newUser("bob")
	mustCreateUser(t, s, alice)
	mustCreateUser(t, s, bob)
	s1 := newSession("s1", alice.ID, t0)
	s2 := newSession("s2", alice.ID, t0.Add(time.Minute))
	s3 := newSession("s3", bob.ID, t0.Add(2*time.Minute))
	mustCreateSession(t, s, s1, "r1")
	mustCreateSession(t, s, s2, "r2")
	mustCreateSession(t, s, s3, "r3")

	same(t, "Session(s1)", mustSession(t, s, "s1"), s1)
	_, err := s.Session(ctx, "s9")
	wantErr(t, err, waxseal.ErrNotFound)

	got, err := s.SessionByRefresh(ctx, sum("r2"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "SessionByRefresh(r2)", got, s2)
	_, err = s.SessionByRefresh(ctx, sum("r9"))
	wantErr(t, err, waxseal.ErrNotFound)

	t.Run("conflict", func(t *testing.T) {
		wantErr(t, s.CreateSession(ctx, newSession("s1", alice.ID, t0), sum("r8")), waxseal.ErrConflict)
		// The session is stored with its token or not at all.
		wantErr(t, s.CreateSession(ctx, newSession("s8", alice.ID, t0), sum("r1")), waxseal.ErrConflict)
		if _, err := s.Session(ctx, "s8"); err == nil {
			t.Error("a session whose refresh token conflicted was stored")
		}
		if err := s.CreateSession(ctx, newSession("s7", "id-nobody", t0), sum("r7")); err == nil {
			t.Error("stored a session of a user that does not exist")
		}
	})

	t.Run("list", func(t *testing.T) {
		list := func(user string, want ...*waxseal.Session) {
			t.Helper()
			got, err := s.ListSessions(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			same(t, "ListSessions("+user+")", got, want)
		}
		list(alice.ID, s2, s1)
		list(bob.ID, s3)
		list("id-nobody")
		if _, err := s.EndSessions(ctx, waxseal.EndParams{SessionID: "s2", Now: t0.Add(time.Hour), Reason: "logout",
			Revocation: revocation(waxseal.RevokeSession, "s2", t0.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		list(alice.ID, s1)
	})

	t.Run("by rotated token", func(t *testing.T) {
		res, err := s.RotateRefresh(ctx, rotation("r3", "r3next", t0.Add(3*time.Minute)))
		if err != nil || res.Outcome != waxseal.Rotated {
			t.Fatalf("RotateRefresh = %+v, %v; want Rotated", res, err)
		}
		for _, r := range []string{"r3", "r3next"} {
			got, err := s.SessionByRefresh(ctx, sum(r))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "s3" {
				t.Errorf("SessionByRefresh(%s) = %s, want s3", r, got.ID)
			}
		}
	})
}

// rotation asks to rotate token present into next at now.
func rotation(present, next string, now time.Time) waxseal.RotateParams {
	return waxseal.RotateParams{
		Digest: sum(present), Now: now, Grace: grace, Idle: idle,
		SuccessorDigest: sum(next), SuccessorSealed: []byte("sealed " + next),
		Reuse: waxseal.Revocation{Kind: waxseal.RevokeSession, Created: now, Expires: now.Add(time.Hour)},
	}
}

// rotate rotates and checks the outcome and, for Replayed, which successor
// came back.
func rotate(t *testing.T, s waxseal.Store, p waxseal.RotateParams, want waxseal.RotateOutcome, sealed string) *waxseal.RotateResult {
	t.Helper()
	res, err := s.RotateRefresh(t.Context(), p)
	if err != nil {
		t.Fatalf("RotateRefresh at %v: %v", p.Now, err)
	}
	if res.Outcome != want {
		t.Fatalf("RotateRefresh at %v: outcome %d, want %d", p.Now, res.Outcome, want)
	}
	if res.Session == nil {
		t.Fatal("RotateRefresh returned no session")
	}
	if want == waxseal.Replayed && string(res.SuccessorSealed) != "sealed "+sealed {
		t.Errorf("RotateRefresh replayed %q, want %q", res.SuccessorSealed, "sealed "+sealed)
	}
	if (want == waxseal.Reused) != (res.Revocation != nil) {
		t.Errorf("RotateRefresh %d returned revocation %+v", want, res.Revocation)
	}
	return res
}

func testRotate(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	alice := newUser("alice")
	mustCreateUser(t, s, alice)
	x := newSession("s1", alice.ID, t0)
	mustCreateSession(t, s, x, "r0")
	at := t0.Add(time.Minute) // r0 is rotated then

	_, err := s.RotateRefresh(ctx, rotation("nope", "r9", at))
	wantErr(t, err, waxseal.ErrNotFound)

	res := rotate(t, s, rotation("r0", "r1", at), waxseal.Rotated, "")
	x.LastUsed = at
	same(t, "session rotated", res.Session, x)
	same(t, "stored session", mustSession(t, s, "s1"), x)

	// Inside the grace period, to its last instant, r0 gives r1 again and
	// what the caller offered as a successor is dropped.
	rotate(t, s, rotation("r0", "r1b", at), waxseal.Replayed, "r1")
	res = rotate(t, s, rotation("r0", "r1c", at.Add(grace)), waxseal.Replayed, "r1")
	x.LastUsed = at.Add(grace)
	same(t, "session replayed", res.Session, x)
	same(t, "stored session", mustSession(t, s, "s1"), x)
	for _, r := range []string{"r1b", "r1c"} {
		if _, err := s.SessionByRefresh(ctx, sum(r)); err == nil {
			t.Errorf("replay stored the offered successor %s", r)
		}
	}

	// One microsecond later, r0 is reused: the session was stolen.
	reuse := at.Add(grace + time.Microsecond)
	res = rotate(t, s, rotation("r0", "r1d", reuse), waxseal.Reused, "")
	x.Ended, x.EndReason = reuse, "reuse"
	same(t, "session reused", res.Session, x)
	same(t, "stored session", mustSession(t, s, "s1"), x)
	want := waxseal.Revocation{Cursor: res.Revocation.Cursor, Kind: waxseal.RevokeSession, Value: "s1", Created: reuse, Expires: reuse.Add(time.Hour)}
	same(t, "reuse revocation", res.Revocation, &want)
	if res.Revocation.Cursor <= 0 {
		t.Errorf("reuse revocation has cursor %d", res.Revocation.Cursor)
	}
	log, err := s.Revocations(ctx, 0, 10, reuse)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "revocation log", log, []waxseal.Revocation{want})

	// The session has ended: its current token and the reused one are
	// refused, and nothing more is appended.
	rotate(t, s, rotation("r1", "r2", reuse), waxseal.Inactive, "")
	rotate(t, s, rotation("r0", "r2", reuse.Add(time.Minute)), waxseal.Inactive, "")
	same(t, "stored session", mustSession(t, s, "s1"), x)
	log, err = s.Revocations(ctx, 0, 10, reuse)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 {
		t.Errorf("log holds %d entries, want 1", len(log))
	}
}

// testRotateChain rotates r0 to r1 to r2: whether r0 is replayed or reused
// depends on when r0 was rotated, not on r1.
func testRotateChain(t *testing.T, s waxseal.Store) {
	mustCreateUser(t, s, newUser("alice"))
	mustCreateSession(t, s, newSession("s1", "id-alice", t0), "r0")
	at := t0.Add(time.Minute)
	rotate(t, s, rotation("r0", "r1", at), waxseal.Rotated, "")
	rotate(t, s, rotation("r1", "r2", at.Add(10*time.Second)), waxseal.Rotated, "")
	rotate(t, s, rotation("r0", "x", at.Add(20*time.Second)), waxseal.Replayed, "r1")
	rotate(t, s, rotation("r1", "x", at.Add(10*time.Second+grace)), waxseal.Replayed, "r2")
	rotate(t, s, rotation("r2", "r3", at.Add(grace)), waxseal.Rotated, "")
	res := rotate(t, s, rotation("r0", "x", at.Add(grace+time.Microsecond)), waxseal.Reused, "")
	if res.Revocation.Value != "s1" {
		t.Errorf("revocation value %q, want s1", res.Revocation.Value)
	}
}

func testRotateExpiry(t *testing.T, s waxseal.Store) {
	mustCreateUser(t, s, newUser("alice"))
	for _, tc := range []struct {
		name    string
		expires time.Duration // after t0
		at      time.Duration // after t0
		want    waxseal.RotateOutcome
	}{
		{"idle, last instant", life, idle - time.Microsecond, waxseal.Rotated},
		{"idle", life, idle, waxseal.Inactive},
		{"absolute, last instant", time.Hour, time.Hour - time.Microsecond, waxseal.Rotated},
		{"absolute", time.Hour, time.Hour, waxseal.Inactive},
		{"absolute, long after", time.Hour, 2 * life, waxseal.Inactive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newSession(tc.name, "id-alice", t0)
			x.Expires = t0.Add(tc.expires)
			mustCreateSession(t, s, x, tc.name)
			now := t0.Add(tc.at)
			res := rotate(t, s, rotation(tc.name, tc.name+" next", now), tc.want, "")
			if tc.want == waxseal.Rotated {
				x.LastUsed = now
			} else {
				x.Ended, x.EndReason = now, "expired"
			}
			same(t, "session", res.Session, x)
			same(t, "stored session", mustSession(t, s, x.ID), x)
		})
	}

	t.Run("ended", func(t *testing.T) {
		x := newSession("ended", "id-alice", t0)
		mustCreateSession(t, s, x, "ended")
		end := t0.Add(time.Minute)
		if _, err := s.EndSessions(t.Context(), waxseal.EndParams{SessionID: x.ID, Now: end, Reason: "logout",
			Revocation: revocation(waxseal.RevokeSession, x.ID, end)}); err != nil {
			t.Fatal(err)
		}
		x.Ended, x.EndReason = end, "logout"
		res := rotate(t, s, rotation("ended", "x", end.Add(time.Minute)), waxseal.Inactive, "")
		same(t, "session", res.Session, x)
		same(t, "stored session", mustSession(t, s, x.ID), x)
	})
}

// testRotateConcurrent presents one token 50 times at once, half through
// each store: exactly one call rotates and the others replay its
// successor.
func testRotateConcurrent(t *testing.T, a, b waxseal.Store) {
	const n = 50
	mustCreateUser(t, a, newUser("alice"))
	mustCreateSession(t, a, newSession("s1", "id-alice", t0), "r0")
	results := make([]*waxseal.RotateResult, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			res, err := s.RotateRefresh(t.Context(), rotation("r0", fmt.Sprint("r1-", i), t0.Add(time.Minute)))
			if err != nil {
				t.Errorf("RotateRefresh %d: %v", i, err)
				return
			}
			results[i] = res
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	winner := -1
	for i, res := range results {
		if res.Outcome == waxseal.Rotated {
			if winner >= 0 {
				t.Fatalf("calls %d and %d both rotated", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no call rotated")
	}
	sealed := []byte(fmt.Sprint("sealed r1-", winner))
	for i, res := range results {
		if i != winner && (res.Outcome != waxseal.Replayed || !bytes.Equal(res.SuccessorSealed, sealed)) {
			t.Errorf("call %d: outcome %d with %q, want %d with %q", i, res.Outcome, res.SuccessorSealed, waxseal.Replayed, sealed)
		}
	}
	for i := range n {
		_, err := a.SessionByRefresh(t.Context(), sum(fmt.Sprint("r1-", i)))
		if (err == nil) != (i == winner) {
			t.Errorf("successor of call %d: %v", i, err)
		}
	}
}

// mustEnd ends sessions and checks that p's revocation was appended.
func mustEnd(t *testing.T, s waxseal.Store, p waxseal.EndParams) waxseal.Revocation {
	t.Helper()
	rev, err := s.EndSessions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if rev == nil || rev.Cursor <= 0 {
		t.Fatalf("EndSessions returned %+v, want the revocation with its cursor", rev)
	}
	want := p.Revocation
	want.Cursor = rev.Cursor
	same(t, "revocation", rev, &want)
	return want
}

func testEndSession(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("alice"))
	s1, s2 := newSession("s1", "id-alice", t0), newSession("s2", "id-alice", t0)
	mustCreateSession(t, s, s1, "r1")
	mustCreateSession(t, s, s2, "r2")
	end := t0.Add(time.Hour)
	p := waxseal.EndParams{SessionID: "s1", Now: end, Reason: "logout", Revocation: revocation(waxseal.RevokeSession, "s1", end)}

	want := mustEnd(t, s, p)
	log, err := s.Revocations(ctx, 0, 10, end)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "revocation log", log, []waxseal.Revocation{want})
	s1.Ended, s1.EndReason = end, "logout"
	same(t, "ended session", mustSession(t, s, "s1"), s1)
	same(t, "other session", mustSession(t, s, "s2"), s2)

	// Ending it again ends nothing and appends nothing.
	p.Now, p.Reason = end.Add(time.Hour), "revoked"
	if rev, err := s.EndSessions(ctx, p); err != nil || rev != nil {
		t.Errorf("EndSessions of an ended session = %+v, %v; want nil, nil", rev, err)
	}
	same(t, "session ended twice", mustSession(t, s, "s1"), s1)
	p.SessionID = "s9"
	if rev, _ := s.EndSessions(ctx, p); rev != nil {
		t.Errorf("EndSessions of a session that does not exist appended %+v", rev)
	}
	if log, err := s.Revocations(ctx, 0, 10, end); err != nil || len(log) != 1 {
		t.Errorf("log = %+v, %v; want the one entry", log, err)
	}
}

func testEndUserSessions(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	alice, bob := newUser("alice"), newUser("bob")
	mustCreateUser(t, s, alice)
	mustCreateUser(t, s, bob)
	s1, s2, s3 := newSession("s1", alice.ID, t0), newSession("s2", alice.ID, t0), newSession("s3", bob.ID, t0)
	for _, x := range []*waxseal.Session{s1, s2, s3} {
		mustCreateSession(t, s, x, x.ID)
	}
	early := t0.Add(time.Minute)
	if _, err := s.EndSessions(ctx, waxseal.EndParams{SessionID: "s1", Now: early, Reason: "logout",
		Revocation: revocation(waxseal.RevokeSession, "s1", early)}); err != nil {
		t.Fatal(err)
	}
	s1.Ended, s1.EndReason = early, "logout"

	end := t0.Add(time.Hour)
	p := waxseal.EndParams{UserID: alice.ID, Now: end, Reason: "password changed", DisableUser: true,
		Revocation: waxseal.Revocation{Kind: waxseal.RevokeSubject, Value: alice.ID, NotBefore: end, Created: end, Expires: end.Add(time.Hour)}}
	want := mustEnd(t, s, p)
	s2.Ended, s2.EndReason = end, "password changed"
	for _, x := range []*waxseal.Session{s1, s2, s3} {
		same(t, "session "+x.ID, mustSession(t, s, x.ID), x)
	}
	u, err := s.UserByID(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Disabled {
		t.Error("user not disabled")
	}

	// For a user the revocation is appended even with no session open:
	// access tokens may outlive their sessions.
	p.Now, p.DisableUser, p.UserID, p.Revocation.Value = end.Add(time.Minute), false, bob.ID, bob.ID
	p.Revocation.Created = p.Now
	mustEnd(t, s, p) // bob's one session
	if again := mustEnd(t, s, p); again.Cursor <= want.Cursor {
		t.Errorf("cursor %d after %d", again.Cursor, want.Cursor)
	}
	if u, err := s.UserByID(ctx, bob.ID); err != nil || u.Disabled {
		t.Errorf("UserByID(bob) = %+v, %v; want enabled", u, err)
	}
}

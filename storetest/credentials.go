package storetest

import (
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

// testStaleLogin: a login that checked the password before it was changed,
// reset, or the account disabled, starts no session after the change; nor
// does an authorization code redeemed after its issuer session ended.
func testStaleLogin(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	alice := newUser("alice")
	mustCreateUser(t, s, alice)
	checked := mustUser(t, s, alice.ID) // what the login read before hashing
	mustCreateSession(t, s, newSession("s1", alice.ID, t0), "r1")
	mustCreateSession(t, s, newSession("s2", alice.ID, t0), "r2")

	now := t0.Add(time.Minute)
	revs, err := s.SetPassword(ctx, waxseal.PasswordParams{
		UserID: alice.ID, PasswordHash: "$argon2id$new", Now: now, Reason: "password_changed", Keep: "s2",
		Revocation: waxseal.Revocation{Created: now, Expires: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].Kind != waxseal.RevokeSession || revs[0].Value != "s1" || revs[0].Cursor == 0 {
		t.Fatalf("SetPassword appended %+v, want one sid revocation of s1", revs)
	}
	if x := mustSession(t, s, "s1"); x.Ended.IsZero() || x.EndReason != "password_changed" {
		t.Errorf("s1 after the password change: ended %v (%q)", x.Ended, x.EndReason)
	}
	if x := mustSession(t, s, "s2"); !x.Ended.IsZero() {
		t.Error("the kept session ended")
	}
	changed := mustUser(t, s, alice.ID)
	if changed.PasswordHash != "$argon2id$new" || changed.Epoch == checked.Epoch {
		t.Fatalf("after SetPassword: hash %q, epoch %d (was %d)", changed.PasswordHash, changed.Epoch, checked.Epoch)
	}

	stale := newSession("s3", alice.ID, now)
	stale.UserEpoch = checked.Epoch
	wantErr(t, s.CreateSession(ctx, stale, sum("r3")), waxseal.ErrStale)
	if _, err := s.Session(ctx, "s3"); err == nil {
		t.Error("a login that checked the old password got a session")
	}
	fresh := newSession("s4", alice.ID, now)
	fresh.UserEpoch = changed.Epoch
	mustCreateSession(t, s, fresh, "r4")

	// An authorization code's session needs its issuer session open.
	child := newSession("c1", alice.ID, now)
	child.Parent = "s1" // ended by the change
	wantErr(t, s.CreateSession(ctx, child, sum("rc1")), waxseal.ErrStale)
	child.Parent = "s4"
	mustCreateSession(t, s, child, "rc1")

	_, err = s.SetPassword(ctx, waxseal.PasswordParams{UserID: "id-nobody", PasswordHash: "x", Now: now, Reason: "password_changed",
		Revocation: waxseal.Revocation{Created: now, Expires: now.Add(time.Hour)}})
	wantErr(t, err, waxseal.ErrNotFound)

	// Disabling (or revoking) the user moves the epoch too, and a disabled
	// user gets no session at all.
	checked = mustUser(t, s, alice.ID)
	endUser(t, s, waxseal.EndParams{UserID: alice.ID, Now: now, Reason: "revoked",
		Revocation: waxseal.Revocation{Kind: waxseal.RevokeSubject, NotBefore: now, Expires: now.Add(time.Hour)}})
	revoked := mustUser(t, s, alice.ID)
	if revoked.Epoch == checked.Epoch {
		t.Error("revoking the user left the epoch as it was")
	}
	stale = newSession("s5", alice.ID, now)
	stale.UserEpoch = checked.Epoch
	wantErr(t, s.CreateSession(ctx, stale, sum("r5")), waxseal.ErrStale)
	endUser(t, s, waxseal.EndParams{UserID: alice.ID, Now: now, Reason: "disabled", DisableUser: true,
		Revocation: waxseal.Revocation{Kind: waxseal.RevokeSubject, NotBefore: now, Expires: now.Add(time.Hour)}})
	disabled := newSession("s6", alice.ID, now)
	disabled.UserEpoch = mustUser(t, s, alice.ID).Epoch
	wantErr(t, s.CreateSession(ctx, disabled, sum("r6")), waxseal.ErrStale)

	// UpdateUser (a rehash, new roles) leaves the epoch alone, and writes
	// nothing from a copy read before the epoch moved.
	u := mustUser(t, s, alice.ID)
	v := *u
	v.Roles, v.Disabled, v.PasswordHash = []string{"x"}, false, "$argon2id$rehashed"
	v.Epoch = checked.Epoch // read before the disable
	wantErr(t, s.UpdateUser(ctx, &v), waxseal.ErrStale)
	if got := mustUser(t, s, alice.ID); !got.Disabled || got.PasswordHash != u.PasswordHash {
		t.Errorf("a stale UpdateUser was written: disabled %v, hash %q", got.Disabled, got.PasswordHash)
	}
	v.Epoch = u.Epoch
	if err := s.UpdateUser(ctx, &v); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, s, alice.ID); got.Epoch != u.Epoch || got.Disabled || got.PasswordHash != v.PasswordHash {
		t.Errorf("after UpdateUser: epoch %d (was %d), disabled %v, hash %q", got.Epoch, u.Epoch, got.Disabled, got.PasswordHash)
	}
}

// testRotateAudit: a rotation's audit event, and a reuse's, are stored with
// it, in its transaction, with the session's user, ID and client.
func testRotateAudit(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	alice := newUser("alice")
	mustCreateUser(t, s, alice)
	mustCreateSession(t, s, newSession("s1", alice.ID, t0), "r1")
	p := rotation("r1", "r2", t0.Add(time.Minute))
	p.Audit = waxseal.AuditEvent{Type: "refresh", IP: "192.0.2.9"}
	p.ReuseAudit = waxseal.AuditEvent{Type: "refresh_reuse", Detail: "reused"}
	rotate(t, s, p, waxseal.Rotated, "")
	events, err := s.Audit(ctx, 0, 10, alice.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != "refresh" || events[0].SessionID != "s1" || events[0].ClientID != "cli" ||
		events[0].IP != "192.0.2.9" || !events[0].Time.Equal(p.Now) {
		t.Fatalf("audit after a rotation: %+v", events)
	}
	p.Now = p.Now.Add(time.Hour) // past the grace: reuse
	rotate(t, s, p, waxseal.Reused, "")
	events, err = s.Audit(ctx, 0, 10, alice.ID, "refresh_reuse")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].SessionID != "s1" || events[0].Detail != "reused" {
		t.Fatalf("audit after reuse: %+v", events)
	}
}

func mustUser(t *testing.T, s waxseal.Store, id string) *waxseal.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func endUser(t *testing.T, s waxseal.Store, p waxseal.EndParams) {
	t.Helper()
	if _, err := s.EndSessions(t.Context(), p); err != nil {
		t.Fatal(err)
	}
}

package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

func newCode(name string, parent string) *waxseal.AuthCode {
	return &waxseal.AuthCode{
		Digest: sum("code " + name), ClientID: "app", RedirectURI: "https://app.example/cb",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Scope: "openid profile", Nonce: "n-0S6_WzA2Mj",
		UserID: "id-alice", Parent: parent, AuthTime: t0.Add(-time.Minute), Created: t0, Expires: t0.Add(time.Minute),
	}
}

func redeem(digest []byte, sid, refresh string, now time.Time, check func(*waxseal.AuthCode) error) waxseal.RedeemParams {
	x := newSession(sid, "id-alice", now)
	x.ClientID, x.Parent = "app", "sso"
	return waxseal.RedeemParams{Digest: digest, Now: now, Check: check, Session: x, RefreshDigest: sum(refresh),
		Reuse: revocation(waxseal.RevokeSession, "", now)}
}

// testAuthCodes: a code is redeemed once; its bindings are checked in the
// transaction; a second redemption ends the session the first started and
// appends its revocation.
func testAuthCodes(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("alice"))
	sso := newSession("sso", "id-alice", t0.Add(-time.Minute))
	mustCreateSession(t, s, sso, "cookie")
	c := newCode("one", "sso")
	if err := s.CreateAuthCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateAuthCode(ctx, newCode("one", "sso")), waxseal.ErrConflict)

	_, err := s.RedeemAuthCode(ctx, redeem(sum("code nobody"), "s0", "r0", t0, nil))
	wantErr(t, err, waxseal.ErrNotFound)

	// A failed check changes nothing and comes back as it is.
	errWrong := errors.New("wrong verifier")
	var seen *waxseal.AuthCode
	_, err = s.RedeemAuthCode(ctx, redeem(c.Digest, "s1", "r1", t0, func(got *waxseal.AuthCode) error { seen = got; return errWrong }))
	if err != errWrong {
		t.Fatalf("RedeemAuthCode with a failing check = %v, want the check's error itself", err)
	}
	same(t, "code seen by Check", seen, c)
	if _, err := s.Session(ctx, "s1"); !errors.Is(err, waxseal.ErrNotFound) {
		t.Errorf("a refused redemption started session s1: %v", err)
	}

	now := t0.Add(10 * time.Second)
	res, err := s.RedeemAuthCode(ctx, redeem(c.Digest, "s2", "r2", now, func(*waxseal.AuthCode) error { return nil }))
	if err != nil || res.Reused || res.Revocation != nil {
		t.Fatalf("first redemption = %+v, %v", res, err)
	}
	want := *c
	want.Used, want.Session = now, "s2"
	same(t, "redeemed code", res.Code, &want)
	got := mustSession(t, s, "s2")
	if got.Parent != "sso" || got.ClientID != "app" || !got.Ended.IsZero() {
		t.Errorf("session of the code = %+v", got)
	}
	if x, err := s.SessionByRefresh(ctx, sum("r2")); err != nil || x.ID != "s2" {
		t.Errorf("SessionByRefresh(first refresh token) = %+v, %v", x, err)
	}

	// The second redemption issues nothing and ends s2, whatever its check says.
	later := now.Add(5 * time.Second)
	res, err = s.RedeemAuthCode(ctx, redeem(c.Digest, "s3", "r3", later, func(*waxseal.AuthCode) error { return nil }))
	if err != nil || !res.Reused || res.Revocation == nil || res.Revocation.Cursor <= 0 {
		t.Fatalf("second redemption = %+v, %v; want reuse with a revocation", res, err)
	}
	if res.Revocation.Kind != waxseal.RevokeSession || res.Revocation.Value != "s2" {
		t.Errorf("reuse revocation = %+v, want sid s2", res.Revocation)
	}
	if _, err := s.Session(ctx, "s3"); !errors.Is(err, waxseal.ErrNotFound) {
		t.Errorf("a reused code started session s3: %v", err)
	}
	if x := mustSession(t, s, "s2"); x.Ended.IsZero() {
		t.Error("session s2 still open after its code was reused")
	}
	log, err := s.Revocations(ctx, 0, 10, later)
	if err != nil || len(log) != 1 || log[0].Value != "s2" {
		t.Errorf("revocation log = %+v, %v; want s2's revocation", log, err)
	}
	// A third use finds s2 ended and appends nothing more.
	res, err = s.RedeemAuthCode(ctx, redeem(c.Digest, "s4", "r4", later, nil))
	if err != nil || !res.Reused || res.Revocation != nil {
		t.Errorf("third redemption = %+v, %v; want reuse, nothing appended", res, err)
	}

	// Pruning removes only expired codes.
	fresh := newCode("fresh", "sso")
	fresh.Expires = t0.Add(time.Hour)
	if err := s.CreateAuthCode(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneAuthCodes(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Errorf("PruneAuthCodes = %d, %v; want 1", n, err)
	}
	_, err = s.RedeemAuthCode(ctx, redeem(c.Digest, "s5", "r5", later, nil))
	wantErr(t, err, waxseal.ErrNotFound)
	if _, err := s.RedeemAuthCode(ctx, redeem(fresh.Digest, "s6", "r6", later, nil)); err != nil {
		t.Errorf("redeeming the code pruning kept: %v", err)
	}
}

// testAuthCodeConcurrent: of many concurrent redemptions of one code,
// exactly one starts a session, and the others end it.
func testAuthCodeConcurrent(t *testing.T, a, b waxseal.Store) {
	ctx := t.Context()
	mustCreateUser(t, a, newUser("alice"))
	// The issuer session the redemptions' sessions are started from.
	mustCreateSession(t, a, newSession("sso", "id-alice", t0), "sso cookie")
	c := newCode("race", "")
	if err := a.CreateAuthCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	results := make([]*waxseal.RedeemResult, n)
	errs := make([]error, n)
	for i := range n {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := "race" + string(rune('a'+i))
			results[i], errs[i] = st.RedeemAuthCode(ctx, redeem(c.Digest, sid, sid, t0, nil))
		}()
	}
	wg.Wait()
	redeemed, revoked := 0, 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("redemption %d: %v", i, errs[i])
		}
		if !results[i].Reused {
			redeemed++
		}
		if results[i].Revocation != nil {
			revoked++
		}
	}
	if redeemed != 1 || revoked != 1 {
		t.Errorf("%d redemptions started a session and %d revoked it; want 1 and 1", redeemed, revoked)
	}
}

// testSessionFamily: ending a session ends the sessions started from it,
// each with its own revocation, but the one EndParams.Keep names.
func testSessionFamily(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("alice"))
	sso := newSession("sso", "id-alice", t0)
	mustCreateSession(t, s, sso, "cookie")
	for _, id := range []string{"app1", "app2"} {
		x := newSession(id, "id-alice", t0)
		x.Parent = "sso"
		mustCreateSession(t, s, x, "r"+id)
		same(t, "child session", mustSession(t, s, id), x)
	}
	other := newSession("other", "id-alice", t0)
	mustCreateSession(t, s, other, "rother")
	kept := newSession("kept", "id-alice", t0)
	kept.Parent = "sso"
	mustCreateSession(t, s, kept, "rkept")

	end := t0.Add(time.Hour)
	mustEnd(t, s, waxseal.EndParams{SessionID: "sso", Now: end, Reason: "logout", Keep: "kept", Revocation: revocation(waxseal.RevokeSession, "sso", end)})
	for _, id := range []string{"sso", "app1", "app2"} {
		if x := mustSession(t, s, id); x.Ended.IsZero() {
			t.Errorf("session %s still open", id)
		}
	}
	if x := mustSession(t, s, "other"); !x.Ended.IsZero() {
		t.Error("an unrelated session ended")
	}
	if x := mustSession(t, s, "kept"); !x.Ended.IsZero() {
		t.Error("the session EndParams.Keep names ended")
	}
	log, err := s.Revocations(ctx, 0, 10, end)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range log {
		if r.Kind == waxseal.RevokeSession {
			got[r.Value] = true
		}
	}
	if len(log) != 3 || !got["sso"] || !got["app1"] || !got["app2"] {
		t.Errorf("revocation log = %+v; want sid revocations of sso, app1 and app2", log)
	}
}

// testOIDCClient: redirect URIs, kind and ID-token algorithm round-trip;
// a public client has no secret.
func testOIDCClient(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	spa := &waxseal.Client{ID: "spa", Name: "SPA", Public: true, IDTokenAlg: "RS256",
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile"},
		RedirectURIs: []string{"https://spa.example/cb", "http://127.0.0.1/cb"}, PostLogoutRedirectURIs: []string{"https://spa.example/"},
		Created: t0, Updated: t0}
	mustCreateClient(t, s, spa)
	got := mustClient(t, s, "spa")
	if len(got.SecretDigest) != 0 {
		t.Errorf("public client's secret digest = %x, want none", got.SecretDigest)
	}
	got.SecretDigest = nil
	same(t, "public client", got, spa)
	spa.Public, spa.IDTokenAlg, spa.RedirectURIs = false, "EdDSA", []string{"https://spa.example/other"}
	spa.SecretDigest = sum("now confidential")
	if err := s.UpdateClient(ctx, spa); err != nil {
		t.Fatal(err)
	}
	same(t, "updated client", mustClient(t, s, "spa"), spa)
}

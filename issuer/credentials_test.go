package issuer_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

// raceStore runs between once, the first time a session is created, just
// before the store creates it: after the login checked the password, before
// its session exists. It fails every AppendAudit when failAudit is set.
type raceStore struct {
	waxseal.Store
	once      sync.Once
	between   func(ctx context.Context)
	failAudit bool
	// beforeUpdate runs once, just before the first UpdateUser.
	updateOnce   sync.Once
	beforeUpdate func(ctx context.Context)
}

func (s *raceStore) UpdateUser(ctx context.Context, u *waxseal.User) error {
	if s.beforeUpdate != nil {
		s.updateOnce.Do(func() { s.beforeUpdate(ctx) })
	}
	return s.Store.UpdateUser(ctx, u)
}

func (s *raceStore) CreateSession(ctx context.Context, x *waxseal.Session, digest []byte) error {
	if s.between != nil {
		s.once.Do(func() { s.between(ctx) })
	}
	return s.Store.CreateSession(ctx, x, digest)
}

func (s *raceStore) AppendAudit(ctx context.Context, e waxseal.AuditEvent) error {
	if s.failAudit {
		return errors.New("audit log unavailable")
	}
	return s.Store.AppendAudit(ctx, e)
}

const newPassword = "violet harbour lantern 77"

// TestCredentialChangeBeatsConcurrentLogin: a password grant that checked
// the old password while the password was changed, reset, or the account
// disabled, ends with no session and no tokens.
func TestCredentialChangeBeatsConcurrentLogin(t *testing.T) {
	changes := []struct {
		name   string
		change func(ctx context.Context, e *env, u *waxseal.User) error
		pw     string // the password that logs in afterwards, if any
	}{
		{"password", func(ctx context.Context, e *env, u *waxseal.User) error {
			_, err := e.acct.SetPassword(ctx, u, newPassword, "")
			return err
		}, newPassword},
		{"disable", func(ctx context.Context, e *env, u *waxseal.User) error {
			_, err := e.acct.EndUser(ctx, u.ID, true, "user_disabled", "")
			return err
		}, ""},
		{"revoke", func(ctx context.Context, e *env, u *waxseal.User) error {
			_, err := e.acct.EndUser(ctx, u.ID, false, "user_revoked", "")
			return err
		}, testPassword},
	}
	forEachEngine(t, func(t *testing.T, eng engine) {
		for _, c := range changes {
			t.Run(c.name, func(t *testing.T) {
				store := &raceStore{Store: eng.open(t)}
				e := newEnv(t, store, nil)
				u := e.addUser("alice", testPassword)
				store.between = func(ctx context.Context) {
					if err := c.change(context.WithoutCancel(ctx), e, u); err != nil {
						t.Error(err)
					}
				}
				r := e.login("alice", testPassword)
				if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
					t.Errorf("login racing the change: %d %s, want 400 invalid_grant", r.Status, r.Raw)
				}
				open, err := store.ListSessions(t.Context(), u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(open) != 0 {
					t.Errorf("%d sessions survived the change", len(open))
				}
				if c.pw != "" {
					e.mustLogin("alice", c.pw)
				}
			})
		}
	})
}

// TestCredentialChangeBeatsConcurrentSignIn: the login page and the
// authorization code flow start sessions through the same check: a sign-in
// that checked the old password gets no issuer session, and a code issued
// before a password change starts no session after it.
func TestCredentialChangeBeatsConcurrentSignIn(t *testing.T) {
	t.Run("login page", func(t *testing.T) {
		var e *oidcEnv
		var store *raceStore
		e = newOIDCEnv(t, func(cfg *issuer.Config, _ *password.HasherConfig) {
			store = &raceStore{Store: cfg.Store}
			cfg.Store = store
		})
		conf := e.client(issuer.ClientSpec{Name: "rp", Public: true})
		u, err := e.store.UserByName(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		store.between = func(ctx context.Context) {
			if _, err := e.acct.SetPassword(context.WithoutCancel(ctx), u, newPassword, ""); err != nil {
				t.Error(err)
			}
		}
		b := e.browser()
		p := submit(t, b, get(t, b, newFlow(conf).url()), "alice", rpPassword)
		if p.status == http.StatusFound || p.status == http.StatusSeeOther {
			t.Errorf("the sign-in that checked the old password went on to %s", p.header.Get("Location"))
		}
		open, err := e.store.ListSessions(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 0 {
			t.Errorf("%d sessions survived the password change", len(open))
		}
	})
	t.Run("code", func(t *testing.T) {
		e := newOIDCEnv(t)
		conf := e.client(issuer.ClientSpec{Name: "rp", Public: true})
		f := newFlow(conf)
		q := e.signIn(e.browser(), f)
		u, err := e.store.UserByName(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.acct.SetPassword(t.Context(), u, newPassword, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.exchange(f, q.Get("code")); tokenError(err) != "invalid_grant" {
			t.Errorf("redeeming a code issued before the password change: %v, want invalid_grant", err)
		}
		open, err := e.store.ListSessions(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 0 {
			t.Errorf("%d sessions survived the password change", len(open))
		}
	})
}

// TestRefreshAuditCommitsWithRotation: the refresh's audit event is written
// in the rotation's transaction, not after it, so a rotation is never
// recorded without its event: it is there even when the separate audit
// path fails.
func TestRefreshAuditCommitsWithRotation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		store := &raceStore{Store: eng.open(t)}
		e := newEnv(t, store, nil)
		u := e.addUser("alice", testPassword)
		_, rt := e.mustLogin("alice", testPassword)
		store.failAudit = true
		if r := e.refresh(rt); r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Raw)
		}
		events, err := store.Audit(t.Context(), 0, 10, u.ID, "refresh")
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 {
			t.Errorf("%d refresh events after one rotation, want 1", len(events))
		}
	})
}

// TestRehashCannotRestoreOldPassword: a login's rehash of the old password,
// racing a password change, never writes the old password back.
func TestRehashCannotRestoreOldPassword(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		store := &raceStore{Store: eng.open(t)}
		old := newEnv(t, store, nil)
		u := old.addUser("alice", testPassword)
		// An issuer with stronger parameters rehashes at the next login.
		e := newEnv(t, store, old.clock, func(_ *issuer.Config, hc *password.HasherConfig) { hc.Params.Time++ })
		store.beforeUpdate = func(ctx context.Context) {
			if _, err := e.acct.SetPassword(context.WithoutCancel(ctx), u, newPassword, ""); err != nil {
				t.Error(err)
			}
		}
		if r := e.login("alice", testPassword); r.Status != http.StatusBadRequest {
			t.Errorf("login racing the change: %d %s, want 400", r.Status, r.Raw)
		}
		if r := e.login("alice", testPassword); r.Status == http.StatusOK {
			t.Error("the old password works again after the change")
		}
		e.mustLogin("alice", newPassword)
	})
}

package issuer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// Accounts manages users and ends sessions. The server and the command line
// share it, so that disabling a user from a shell revokes exactly what an
// API call would.
type Accounts struct {
	Store  waxseal.Store
	Hasher *password.Hasher
	// AccessTTL is the access-token lifetime; a revocation stays in the log
	// until every token it can match has expired. Zero means
	// DefaultAccessTTL.
	AccessTTL time.Duration
	Now       func() time.Time // nil means time.Now
	Logger    *slog.Logger     // the audit log's structured twin; nil means slog.Default()
}

func (a *Accounts) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Accounts) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.Default()
	}
	return a.Logger
}

// revocation returns a log entry that expires when no access token issued
// up to now can still pass a verifier, whatever leeway it allows.
func (a *Accounts) revocation(kind waxseal.RevocationKind, value string, now time.Time) waxseal.Revocation {
	ttl := a.AccessTTL
	if ttl == 0 {
		ttl = DefaultAccessTTL
	}
	return waxseal.Revocation{Kind: kind, Value: value, Created: now, Expires: now.Add(ttl + token.MaxLeeway)}
}

// Audit writes e to the audit log and the structured log. A failure to write
// it is logged, not returned: the action it records already happened.
func (a *Accounts) Audit(ctx context.Context, e waxseal.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	a.logAudit(ctx, e)
	if err := a.Store.AppendAudit(ctx, e); err != nil {
		a.logger().ErrorContext(ctx, "writing audit event failed", "type", e.Type, "err", err)
	}
}

// logAudit writes e to the structured log only, for an event the store
// appended to the audit log in the transaction of what it records.
func (a *Accounts) logAudit(ctx context.Context, e waxseal.AuditEvent) {
	a.logger().InfoContext(ctx, "audit", "type", e.Type, "user", e.UserID, "session", e.SessionID,
		"client", e.ClientID, "ip", e.IP, "detail", e.Detail)
}

// AddUser creates a user with a password that passes the password policy.
func (a *Accounts) AddUser(ctx context.Context, name, pw string, roles []string) (*waxseal.User, error) {
	canon, err := password.CanonicalName(name)
	if err != nil {
		return nil, err
	}
	if err := a.checkPassword(pw, canon); err != nil {
		return nil, err
	}
	hash, err := a.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	if roles == nil {
		roles = []string{}
	}
	now := a.now()
	u := &waxseal.User{ID: token.NewID(), Name: canon, PasswordHash: hash, Roles: roles, Created: now, Updated: now}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "user_created", UserID: u.ID})
	return u, nil
}

// FindUser looks a user up by ID when nameOrID has the form of one
// (password.HasIDForm), and otherwise by name (canonicalized). Names of that
// form are refused, so the two never meet: an account named like another's
// ID before names were checked is still never found by that ID.
func (a *Accounts) FindUser(ctx context.Context, nameOrID string) (*waxseal.User, error) {
	if !password.HasIDForm(nameOrID) {
		canon, err := password.CanonicalName(nameOrID)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", nameOrID, err)
		}
		u, err := a.Store.UserByName(ctx, canon)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", nameOrID, err)
		}
		return u, nil
	}
	u, err := a.Store.UserByID(ctx, nameOrID)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", nameOrID, err)
	}
	return u, nil
}

// EndUser ends every session of the user and revokes every token issued to
// them until now, optionally disabling the account. It returns the
// revocation appended to the log.
func (a *Accounts) EndUser(ctx context.Context, userID string, disable bool, reason, ip string) (*waxseal.Revocation, error) {
	now := a.now()
	rev := a.subjectRevocation(userID, now)
	r, err := a.Store.EndSessions(ctx, waxseal.EndParams{
		UserID: userID, Now: now, Reason: reason, Revocation: rev, DisableUser: disable,
	})
	if err != nil {
		return nil, err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: reason, UserID: userID, IP: ip})
	return r, nil
}

// EnableUser lets a disabled user log in again.
func (a *Accounts) EnableUser(ctx context.Context, u *waxseal.User) error {
	v := *u
	v.Disabled, v.Updated = false, a.now()
	if err := a.Store.UpdateUser(ctx, &v); err != nil {
		return err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "user_enabled", UserID: u.ID})
	return nil
}

// EndSession ends one session and revokes its access tokens everywhere. It
// returns nil and no error when the session had already ended.
func (a *Accounts) EndSession(ctx context.Context, sid, reason, ip string) (*waxseal.Revocation, error) {
	return a.endSession(ctx, sid, "", reason, ip)
}

// endSession ends sid and the sessions started from it but keep.
func (a *Accounts) endSession(ctx context.Context, sid, keep, reason, ip string) (*waxseal.Revocation, error) {
	now := a.now()
	rev, err := a.Store.EndSessions(ctx, waxseal.EndParams{
		SessionID: sid, Now: now, Reason: reason, Keep: keep,
		Revocation: a.revocation(waxseal.RevokeSession, sid, now),
	})
	if err != nil {
		return nil, err
	}
	if rev != nil {
		userID := ""
		if s, err := a.Store.Session(ctx, sid); err == nil {
			userID = s.UserID
		}
		a.Audit(ctx, waxseal.AuditEvent{Type: reason, UserID: userID, SessionID: sid, IP: ip})
	}
	return rev, nil
}

// RevokeToken revokes one access token by its jti until it expires.
func (a *Accounts) RevokeToken(ctx context.Context, jti string, expires time.Time, ip string) (*waxseal.Revocation, error) {
	r := a.revocation(waxseal.RevokeToken, jti, a.now())
	if !expires.IsZero() {
		r.Expires = expires.Add(token.MaxLeeway)
	}
	rev, err := a.Store.AppendRevocation(ctx, r)
	if err != nil {
		return nil, err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "revoke", IP: ip, Detail: "access token " + jti})
	return rev, nil
}

// SetPassword replaces u's password, which must pass the password policy,
// and ends every session of u but keep (none when keep is empty). It
// returns the revocations it appended.
func (a *Accounts) SetPassword(ctx context.Context, u *waxseal.User, pw, keep string) ([]*waxseal.Revocation, error) {
	if err := a.checkPassword(pw, u.Name); err != nil {
		return nil, err
	}
	hash, err := a.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	// One transaction replaces the hash, ends the sessions and moves the
	// user's epoch, so a login that checked the old password while this
	// ran starts no session that outlives it.
	now := a.now()
	revs, err := a.Store.SetPassword(ctx, waxseal.PasswordParams{
		UserID: u.ID, PasswordHash: hash, Now: now, Reason: "password_changed", Keep: keep,
		Revocation: a.revocation(waxseal.RevokeSession, "", now),
	})
	if err != nil {
		return nil, err
	}
	for _, rev := range revs {
		a.Audit(ctx, waxseal.AuditEvent{Type: "password_changed", UserID: u.ID, SessionID: rev.Value})
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "password_changed", UserID: u.ID, SessionID: keep})
	return revs, nil
}

func (a *Accounts) checkPassword(pw, name string) error {
	pw, err := password.NormalizePassword(pw)
	if err != nil {
		return err
	}
	return password.DefaultPolicy.Check(pw, name)
}

// CompromiseKey unpublishes a signing key at once and revokes every token it
// signed, everywhere, through the revocation log. Verifiers that cached the
// JWKS would otherwise accept its tokens until their cache expired.
func (a *Accounts) CompromiseKey(ctx context.Context, ring *keyring.Ring, kid string) (keyring.Info, *waxseal.Revocation, error) {
	info, err := ring.Compromise(ctx, kid)
	if err != nil {
		return info, nil, err
	}
	// Kept until no verifier can still hold the key: one that fetched the
	// JWKS just before may keep it for the JWKS max-age, and may meet tokens
	// it signed for their lifetime and its leeway after that.
	r := a.revocation(waxseal.RevokeKey, kid, a.now())
	r.Expires = later(r.Expires, r.Created.Add(ring.TrustHorizon()+token.MaxLeeway))
	rev, err := a.Store.AppendRevocation(ctx, r)
	if err != nil {
		return info, nil, err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "key_compromised", Detail: "key " + kid})
	return info, rev, nil
}

// subjectRevocation revokes every token of sub issued up to now. Tokens
// carry whole-second iat; a not-before of the next whole second catches
// every token issued up to now (and, failing closed, any issued later in
// the same second).
func (a *Accounts) subjectRevocation(sub string, now time.Time) waxseal.Revocation {
	rev := a.revocation(waxseal.RevokeSubject, sub, now)
	rev.NotBefore = now.Truncate(time.Second).Add(time.Second)
	return rev
}

// RevokeSubject revokes every token issued to sub until now, for a subject
// that has no sessions to end, such as a client.
func (a *Accounts) RevokeSubject(ctx context.Context, sub, reason, ip string) (*waxseal.Revocation, error) {
	rev, err := a.Store.AppendRevocation(ctx, a.subjectRevocation(sub, a.now()))
	if err != nil {
		return nil, err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: reason, ClientID: sub, IP: ip})
	return rev, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

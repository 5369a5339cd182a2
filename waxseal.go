// Package waxseal holds the issuer's domain: users, login sessions, refresh
// tokens, the revocation log and the audit log, and the Store interface that
// every storage engine implements (packages sqlite and postgres). The
// packages named for a protocol piece (token, jwk, keyring, keyset,
// discovery, issuer) build on these types; none of them knows which engine
// is in use.
package waxseal

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/waxseal/waxseal/keyring"
)

// Errors a Store returns that callers branch on. Engines wrap them with
// detail.
var (
	ErrNotFound = errors.New("waxseal: not found")
	ErrConflict = errors.New("waxseal: already exists")
	// ErrStale refuses to start a session for a login whose credentials
	// changed after it checked them: the password was changed or reset,
	// or the account disabled or revoked, in between; or the session it
	// was started from has ended.
	ErrStale = errors.New("waxseal: credentials changed since they were checked")
)

// User is an account that logs in with a password.
type User struct {
	ID           string // stable and opaque; the "sub" of the user's tokens
	Name         string // canonical user name (see package password); unique
	PasswordHash string // argon2id in PHC string format; never leaves the issuer
	Roles        []string
	Disabled     bool
	// Epoch counts the changes that end all of the user's sessions: a
	// password change or reset, disabling, revoking the user. A login
	// remembers the Epoch it checked the password against, and its
	// session is refused (ErrStale) if the Epoch moved in between. The
	// store moves it; UpdateUser leaves it as it is.
	Epoch   int64
	Created time.Time
	Updated time.Time
}

// Client is a registered OAuth client: a service using the
// client_credentials grant, or a third party. Its secret is 256 random bits,
// so a SHA-256 digest compared in constant time protects it as well as a
// slow hash would, without making every grant cost a slow hash.
type Client struct {
	ID           string
	Name         string
	SecretDigest []byte // SHA-256 of the current secret
	// PreviousSecretDigest is still accepted until PreviousSecretExpires,
	// so a rotated secret can be rolled out without downtime.
	PreviousSecretDigest  []byte
	PreviousSecretExpires time.Time
	GrantTypes            []string // e.g. "client_credentials"
	Scopes                []string // the scopes it may ask for
	Roles                 []string // roles in its client_credentials tokens
	// RedirectURIs are where the authorization endpoint may send a code,
	// matched exactly (loopback IP literals on any port, RFC 8252 §7.3).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where the end-session endpoint may send
	// the browser after logout, matched exactly.
	PostLogoutRedirectURIs []string
	// Public clients (single-page and native apps) hold no secret and
	// authenticate with PKCE alone; a public client presenting a secret is
	// refused.
	Public bool
	// IDTokenAlg is the algorithm of its ID tokens: "RS256", which every
	// OpenID Connect relying party supports, or the issuer's default.
	IDTokenAlg string
	Created    time.Time
	Updated    time.Time
}

// Session is one login: it starts with a password grant and lives on
// through refresh-token rotation until it is ended or expires. Its ID is the
// "sid" of every access token issued in it.
type Session struct {
	ID        string
	UserID    string
	ClientID  string
	Scope     string
	Created   time.Time
	LastUsed  time.Time // last login or refresh; the idle timeout counts from here
	Expires   time.Time // absolute end, however active the session is
	Ended     time.Time // zero while the session lives
	EndReason string    // why it ended: "logout", "reuse", "revoked", "expired", ...
	UserAgent string
	IP        string
	// Parent is the issuer (single sign-on) session this session was
	// started from through the authorization endpoint, or empty. Ending a
	// session ends the sessions it started.
	Parent string
	// UserEpoch, for a session without a Parent, is the User.Epoch the
	// login checked the password against: CreateSession refuses with
	// ErrStale, in its transaction, when the user's Epoch is no longer it
	// or the user is disabled. A session with a Parent is refused when the
	// parent has ended. It is checked, not stored: it reads back as zero.
	UserEpoch int64
}

// Active reports whether s may still refresh at now under idle timeout idle.
func (s *Session) Active(now time.Time, idle time.Duration) bool {
	return s.Ended.IsZero() && now.Before(s.Expires) && now.Before(s.LastUsed.Add(idle))
}

// RevocationKind says what a revocation log entry matches.
type RevocationKind string

const (
	RevokeToken   RevocationKind = "jti" // one access token, by its "jti"
	RevokeSession RevocationKind = "sid" // every access token of one session
	RevokeSubject RevocationKind = "sub" // every token of a user issued before NotBefore
	RevokeKey     RevocationKind = "kid" // every token signed by one key
)

// Digest returns how the public revocation feed names value, for an entry
// of kind k: base64url(SHA-256("waxseal revocation " + k + NUL + value)),
// unpadded. The feed is public and user, session and token IDs are not: a
// verifier computes the same digest from the token it holds, and nobody
// learns an ID by reading the feed. Key IDs are public (the JWKS lists
// them) and travel as they are.
func (k RevocationKind) Digest(value string) string {
	var buf [DigestLen]byte
	return string(k.AppendDigest(buf[:0], value))
}

// DigestLen is the length of a digest: 32 bytes in unpadded base64url.
const DigestLen = 43

// AppendDigest appends Digest(value) to dst. With room in dst and a value
// of up to a few hundred bytes it allocates nothing, so a verifier can
// look a token's digests up on every request (m[string(d)] does not
// allocate either).
func (k RevocationKind) AppendDigest(dst []byte, value string) []byte {
	var in [256]byte
	b := append(in[:0], "waxseal revocation "...)
	b = append(b, k...)
	b = append(b, 0)
	b = append(b, value...)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:])
}

// Digested reports whether the feed names entries of kind k by digest.
func (k RevocationKind) Digested() bool { return k != RevokeKey }

// Revocation is one entry of the revocation log. Verifiers follow the log
// and reject any token an entry matches.
type Revocation struct {
	// Cursor orders the log. It is assigned by the Store, strictly
	// increasing in commit order: a reader that has seen cursor c has seen
	// every entry below c that will ever exist.
	Cursor int64
	Kind   RevocationKind
	Value  string // the jti, sid, sub or kid; empty when only Digest is known
	// Digest is Kind.Digest(Value), for an entry read from the public feed,
	// which carries no jti, sid or sub; empty in the issuer's own log.
	Digest    string
	NotBefore time.Time // for RevokeSubject: tokens issued before it are revoked
	Created   time.Time
	// Expires is when no token this entry matches can still be valid; the
	// entry is dropped from the log after it.
	Expires time.Time
}

// AuditEvent is one entry of the audit log. It never holds a secret or a
// token, only what happened, to whom and from where.
type AuditEvent struct {
	ID        int64 // assigned by the Store
	Time      time.Time
	Type      string // "login", "login_failed", "refresh", "refresh_reuse", "logout", "revoke", ...
	UserID    string
	SessionID string
	ClientID  string
	IP        string
	Detail    string
}

// RotateParams asks Store.RotateRefresh to exchange one refresh token.
type RotateParams struct {
	Digest          []byte        // SHA-256 of the presented refresh token
	Now             time.Time     //
	Grace           time.Duration // how long a rotated token still yields its successor
	Idle            time.Duration // the session's idle timeout
	SuccessorDigest []byte        // SHA-256 of a fresh refresh token, used if this call rotates
	// SuccessorSealed is the fresh token encrypted under a key derived from
	// the presented one. It is stored with the rotated token so that a retry
	// inside Grace, which presents the same token, can recover the same
	// successor; nobody without the presented token can.
	SuccessorSealed []byte
	// Reuse is appended to the revocation log, in the same transaction,
	// when the token was rotated longer than Grace ago: the session is
	// treated as stolen and ended. Its Value is filled with the session ID.
	Reuse Revocation
	// Audit, when its Type is set, is appended to the audit log in the
	// same transaction when the token rotates (Rotated); ReuseAudit when
	// reuse is found (Reused). Their UserID, SessionID and ClientID are
	// filled from the session, and Time from Now when zero. A rotation is
	// never recorded without its event, nor the event without it.
	Audit      AuditEvent
	ReuseAudit AuditEvent
}

// RotateOutcome says what RotateRefresh did.
type RotateOutcome int

const (
	// Rotated: the token was current; it is now rotated and the successor
	// from RotateParams is the session's current token.
	Rotated RotateOutcome = iota + 1
	// Replayed: the token was rotated less than Grace ago; the result
	// carries the sealed successor stored then.
	Replayed
	// Reused: the token was rotated longer than Grace ago. The session has
	// been ended and its revocation appended.
	Reused
	// Inactive: the session had ended or expired; nothing changed except
	// that an expired session is marked ended.
	Inactive
)

// RotateResult is what RotateRefresh found and did.
type RotateResult struct {
	Outcome         RotateOutcome
	Session         *Session // the session as it is after the call
	SuccessorSealed []byte   // for Replayed
	Revocation      *Revocation
}

// EndParams ends one session or all of a user's sessions.
type EndParams struct {
	SessionID string // this session, or
	UserID    string // every session of this user
	Now       time.Time
	Reason    string
	// Revocation is appended in the same transaction when at least one
	// session ended (always, for a user), so verifiers drop the sessions'
	// access tokens.
	Revocation Revocation
	// DisableUser, with UserID, also disables the account.
	DisableUser bool
	// Keep, with SessionID, is a session started from it that stays
	// open: a password change ends the issuer session but not the session
	// the change was made in.
	Keep string
}

// PasswordParams replaces a user's password hash and ends the user's
// sessions, in one transaction.
type PasswordParams struct {
	UserID       string
	PasswordHash string
	Now          time.Time
	Reason       string // the sessions' end reason, e.g. "password_changed"
	// Keep is a session that stays open: the one the change was made in.
	Keep string
	// Revocation is copied for every session ended, with Kind
	// RevokeSession and Value the session's ID, and appended.
	Revocation Revocation
}

// AuthCode is an OAuth authorization code (RFC 6749 §4.1). The code itself
// is 256 random bits that only the browser and the client see; the store
// keeps its SHA-256 digest and what it is bound to.
type AuthCode struct {
	Digest        []byte
	ClientID      string
	RedirectURI   string // exactly as the authorization request gave it
	CodeChallenge string // PKCE S256 challenge (RFC 7636)
	Scope         string
	Nonce         string    // OpenID Connect nonce, echoed in the ID token
	UserID        string    //
	Parent        string    // the issuer session the user signed in with
	AuthTime      time.Time // when the user last entered a password
	Created       time.Time
	Expires       time.Time
	// Used is when the code was redeemed, zero before; Session is the
	// session that redemption started. A second redemption ends it.
	Used    time.Time
	Session string
}

// RedeemParams asks Store.RedeemAuthCode to exchange an authorization code.
type RedeemParams struct {
	Digest []byte
	Now    time.Time
	// Check decides, inside the transaction, whether the unused code may
	// be redeemed (client, redirect URI, PKCE verifier, expiry). An error
	// from it leaves everything unchanged and is returned as it is.
	Check func(*AuthCode) error
	// Session is started when the code is redeemed, with RefreshDigest as
	// its first refresh token.
	Session       *Session
	RefreshDigest []byte
	// Reuse is appended when the code had been redeemed before: the
	// session that first redemption started ends, and Reuse (its Value set
	// to that session's ID) revokes its tokens.
	Reuse Revocation
}

// RedeemResult is what RedeemAuthCode found and did.
type RedeemResult struct {
	Code       *AuthCode
	Reused     bool        // the code had been redeemed before; nothing was issued
	Revocation *Revocation // appended on reuse, if the first session was still open
}

// Store is what the issuer keeps. Every method is atomic: it commits fully
// before it returns, or not at all. Engines: package sqlite, package
// postgres; package storetest checks any engine against this contract.
type Store interface {
	keyring.Store

	CreateUser(ctx context.Context, u *User) error // ErrConflict if the name is taken
	UserByName(ctx context.Context, name string) (*User, error)
	UserByID(ctx context.Context, id string) (*User, error)
	// ListUsers returns up to limit users with names after the given one,
	// in name order; with search not empty, only users whose name contains
	// it.
	ListUsers(ctx context.Context, after string, limit int, search string) ([]*User, error)
	// UpdateUser writes u's password hash, roles and disabled flag, only
	// while the user's Epoch is still u.Epoch: ErrStale if it moved since
	// u was read, so a stale copy never undoes a password change or a
	// disable.
	UpdateUser(ctx context.Context, u *User) error
	// SetPassword replaces the user's password hash, moves the user's
	// Epoch (so logins that checked the old password start no session),
	// ends every open session of the user but p.Keep and appends a
	// revocation for each, all in one transaction. It returns the
	// revocations with their cursors. ErrNotFound if the user does not
	// exist.
	SetPassword(ctx context.Context, p PasswordParams) ([]*Revocation, error)

	CreateClient(ctx context.Context, c *Client) error // ErrConflict if the ID is taken
	Client(ctx context.Context, id string) (*Client, error)
	// ListClients returns up to limit clients with IDs after the given one,
	// in ID order.
	ListClients(ctx context.Context, after string, limit int) ([]*Client, error)
	// UpdateClient writes every field of c but ID and Created.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient deletes the client and appends rev (a RevokeSubject for
	// the client's ID, whose tokens carry it as "sub") in the same
	// transaction, returning rev with its cursor.
	DeleteClient(ctx context.Context, id string, rev Revocation) (*Revocation, error)

	// CreateSession stores a new session and its first refresh token;
	// ErrStale when the login's credentials changed since it checked them
	// (see Session.UserEpoch).
	CreateSession(ctx context.Context, s *Session, refreshDigest []byte) error
	Session(ctx context.Context, id string) (*Session, error)
	// SessionByRefresh finds the session of a refresh token, current or
	// already rotated.
	SessionByRefresh(ctx context.Context, digest []byte) (*Session, error)
	// ListSessions returns a user's sessions that have not ended, newest
	// first.
	ListSessions(ctx context.Context, userID string) ([]*Session, error)
	// RotateRefresh exchanges a refresh token in one transaction, so that
	// of any number of concurrent callers, on any number of issuer
	// instances, exactly one rotates and the others see its result.
	// ErrNotFound if no such token was ever issued.
	RotateRefresh(ctx context.Context, p RotateParams) (*RotateResult, error)
	// EndSessions ends sessions and appends p.Revocation, returning it with
	// its cursor (nil when nothing ended and nothing was appended). Ending
	// a session also ends the open sessions whose Parent it is, each with
	// a copy of p.Revocation for its own ID. Ending a user's sessions also
	// moves the user's Epoch.
	EndSessions(ctx context.Context, p EndParams) (*Revocation, error)

	// CreateAuthCode stores an authorization code; ErrConflict if its
	// digest exists.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode exchanges an authorization code in one transaction:
	// of any number of concurrent callers, on any number of instances, at
	// most one redeems it, and every later one ends what the first
	// started. ErrNotFound if no such code exists.
	RedeemAuthCode(ctx context.Context, p RedeemParams) (*RedeemResult, error)
	// PruneAuthCodes deletes codes that expired before before.
	PruneAuthCodes(ctx context.Context, before time.Time) (int64, error)

	// NoteTokenLifetime records that access tokens may live d. The store
	// keeps the longest lifetime it was ever told and keeps every
	// revocation entry at least that long plus token.MaxLeeway after its
	// creation (a key's entry that long beyond what its writer asked),
	// whoever writes it: the server's policy, not a caller's flags.
	NoteTokenLifetime(ctx context.Context, d time.Duration) error
	// AppendRevocation commits r to the revocation log and returns it with
	// its cursor (and its expiry, as the store's policy extended it), then
	// wakes every watcher, on this instance and others.
	AppendRevocation(ctx context.Context, r Revocation) (*Revocation, error)
	// Revocations returns up to limit entries with cursors above after, in
	// cursor order, leaving out entries that expired before now.
	Revocations(ctx context.Context, after int64, limit int, now time.Time) ([]Revocation, error)
	// PruneRevocations deletes entries that expired before now.
	PruneRevocations(ctx context.Context, now time.Time) (int64, error)
	// WatchRevocations calls wake after entries may have been appended, or
	// signing keys saved, by this process or another sharing the database,
	// until ctx ends. Wakes may be spurious or coalesced; callers read
	// Revocations and LoadKeys to see what is new. It returns ctx's error,
	// or the error that broke the watch.
	WatchRevocations(ctx context.Context, wake func()) error

	AppendAudit(ctx context.Context, e AuditEvent) error
	// Audit returns up to limit events with IDs below before (0: from the
	// newest), newest first, of the user and type when those are not empty.
	Audit(ctx context.Context, before int64, limit int, userID, typ string) ([]AuditEvent, error)

	// Ping checks the database answers.
	Ping(ctx context.Context) error
	Close() error
}

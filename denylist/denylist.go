// Package denylist keeps the revocations a verifier must honour, in memory,
// so that checking a token costs a few map lookups and no network call.
//
// A List is filled from the issuer's revocation log, in cursor order: the
// issuer follows its own database, a guard follows the issuer's feed. Every
// entry carries the time after which no token it matches can still be valid;
// Prune drops those, so the list's size follows the number of revocations in
// the last access-token lifetime, not all time.
package denylist

import (
	"sync"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

// List is a denylist of token IDs, sessions, keys and per-subject not-before
// times. It is safe for concurrent use and implements token.Denylist.
type List struct {
	mu     sync.RWMutex
	jti    map[string]time.Time // guarded by mu; by digest; value: when the entry expires
	sid    map[string]time.Time // guarded by mu; by digest
	kid    map[string]time.Time // guarded by mu; by kid
	sub    map[string]subEntry  // guarded by mu; by digest
	cursor int64                // guarded by mu; the highest cursor applied
	now    func() time.Time
}

type subEntry struct {
	notBefore time.Time
	expires   time.Time
}

var _ token.Denylist = (*List)(nil)

// New returns an empty List on the system clock.
func New() *List { return NewAt(time.Now) }

// NewAt returns an empty List on the clock now (nil means time.Now). An
// entry stops matching at its expiry on that clock, whether or not Prune
// has run since, so the list answers the same whatever the prune schedule.
func NewAt(now func() time.Time) *List {
	if now == nil {
		now = time.Now
	}
	return &List{
		jti: map[string]time.Time{},
		sid: map[string]time.Time{},
		kid: map[string]time.Time{},
		sub: map[string]subEntry{},
		now: now,
	}
}

// Apply adds revocations read from the log in cursor order, and moves the
// cursor a reader resumes from past them. Applying an entry twice is
// harmless, so a reader that resumes from an older cursor may replay.
func (l *List) Apply(rs ...waxseal.Revocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addLocked(rs)
	for _, r := range rs {
		l.cursor = max(l.cursor, r.Cursor)
	}
}

// Add adds revocations learnt out of order, such as one the issuer has just
// written itself, without moving the cursor: entries below them that other
// writers committed may not have been read yet, and a cursor moved past
// them would skip them for ever.
func (l *List) Add(rs ...waxseal.Revocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addLocked(rs)
}

func (l *List) addLocked(rs []waxseal.Revocation) {
	for _, r := range rs {
		if r.Kind.Digested() && r.Digest == "" {
			r.Digest = r.Kind.Digest(r.Value)
		}
		switch r.Kind {
		case waxseal.RevokeToken:
			l.jti[r.Digest] = later(l.jti[r.Digest], r.Expires)
		case waxseal.RevokeSession:
			l.sid[r.Digest] = later(l.sid[r.Digest], r.Expires)
		case waxseal.RevokeKey:
			l.kid[r.Value] = later(l.kid[r.Value], r.Expires)
		case waxseal.RevokeSubject:
			e := l.sub[r.Digest]
			l.sub[r.Digest] = subEntry{notBefore: later(e.notBefore, r.NotBefore), expires: later(e.expires, r.Expires)}
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Revoked reports whether c is revoked: its jti, its session or its key is
// listed, or it was issued before its subject's not-before time. A token's
// iat has whole seconds, so a not-before time should be rounded up to a whole
// second by whoever writes it: a token issued in that same second then counts
// as revoked, which fails closed.
func (l *List) Revoked(c *token.Claims) bool {
	now := l.now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if exp, ok := l.kid[c.KeyID]; ok && !exp.Before(now) {
		return true
	}
	// Token, session and subject entries are kept by digest, as the feed
	// names them; a digest is computed only when some entry could match,
	// in a buffer on the stack (this runs on every request).
	var buf [waxseal.DigestLen]byte
	if len(l.jti) > 0 {
		if exp, ok := l.jti[string(waxseal.RevokeToken.AppendDigest(buf[:0], c.ID))]; ok && !exp.Before(now) {
			return true
		}
	}
	if c.SessionID != "" && len(l.sid) > 0 {
		if exp, ok := l.sid[string(waxseal.RevokeSession.AppendDigest(buf[:0], c.SessionID))]; ok && !exp.Before(now) {
			return true
		}
	}
	if len(l.sub) > 0 {
		if e, ok := l.sub[string(waxseal.RevokeSubject.AppendDigest(buf[:0], c.Subject))]; ok && c.IssuedAt.Before(e.notBefore) && !e.expires.Before(now) {
			return true
		}
	}
	return false
}

// Cursor returns the highest cursor applied: where a reader resumes.
func (l *List) Cursor() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cursor
}

// Len returns the number of entries.
func (l *List) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.jti) + len(l.sid) + len(l.kid) + len(l.sub)
}

// Prune drops entries that expired before now and returns how many.
func (l *List) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range []map[string]time.Time{l.jti, l.sid, l.kid} {
		for k, exp := range m {
			if exp.Before(now) {
				delete(m, k)
				n++
			}
		}
	}
	for k, e := range l.sub {
		if e.expires.Before(now) {
			delete(l.sub, k)
			n++
		}
	}
	return n
}

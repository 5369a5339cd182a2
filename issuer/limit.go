package issuer

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/waxseal/waxseal/ratelimit"
)

// Limiter is a brute-force limit: package ratelimit has one in memory (a
// single instance) and one in Redis (limits that hold across instances).
type Limiter interface {
	Allow(ctx context.Context, key string, now time.Time) (ratelimit.Decision, error)
	Reset(ctx context.Context, key string) error
}

// Limits are the brute-force limits of the token and signup endpoints.
// Nil limiters default to in-memory ones with ratelimit's default policies.
type Limits struct {
	Account Limiter // per canonical user name, before any password hashing
	IP      Limiter // per client network (an IPv4 address, an IPv6 /64)
	Client  Limiter // per client ID, for client authentication
	// TrustedProxies are the addresses whose X-Forwarded-For and Forwarded
	// headers name the client. Anyone else's are ignored: a header is
	// trivially forged.
	TrustedProxies []netip.Prefix
}

func (l *Limits) fill() {
	if l.Account == nil {
		l.Account = ratelimit.NewMemory(ratelimit.AccountPolicy)
	}
	if l.IP == nil {
		l.IP = ratelimit.NewMemory(ratelimit.IPPolicy)
	}
	if l.Client == nil {
		l.Client = ratelimit.NewMemory(ratelimit.ClientPolicy)
	}
}

// limit applies the brute-force limits to a request of kind (a grant type,
// or "signup") for account (a canonical user name or a client ID; empty for
// none): the client network's limit first, so attempts refused for their
// source leave the account's budget alone, then the account's. It returns an
// error answered 429 with Retry-After when a limit is reached, and 503 when
// a limit cannot be checked (fail closed).
func (s *Server) limit(r *http.Request, kind, account string) error {
	ctx, now := r.Context(), s.now()
	network := ratelimit.ClientNetwork(s.clientAddr(r)).String()
	ipKey := "ip:" + network
	if kind == "signup" {
		ipKey = "signup:" + network
	}
	if err := s.take(ctx, s.cfg.Limits.IP, ipKey, now); err != nil {
		return err
	}
	switch {
	case account == "":
		return nil
	case kind == GrantClientCredentials:
		return s.take(ctx, s.cfg.Limits.Client, "client:"+account, now)
	}
	return s.take(ctx, s.cfg.Limits.Account, "acct:"+account, now)
}

func (s *Server) take(ctx context.Context, l Limiter, key string, now time.Time) error {
	d, err := l.Allow(ctx, key, now)
	if err != nil {
		s.log.ErrorContext(ctx, "brute-force limit unavailable; refusing", "err", err)
		return &oauthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "try again shortly", header: http.Header{"Retry-After": {"5"}}}
	}
	if d.Allowed {
		return nil
	}
	s.metrics.limited.Inc()
	secs := max(1, int((d.RetryAfter+time.Second-1)/time.Second))
	return &oauthError{Status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
		Description: "too many attempts; retry after " + strconv.Itoa(secs) + " s",
		header:      http.Header{"Retry-After": {strconv.Itoa(secs)}}}
}

// loggedIn tells the account's limit that its owner proved the password, so
// the owner's own typos do not count against the next login.
func (s *Server) loggedIn(ctx context.Context, account string) {
	if err := s.cfg.Limits.Account.Reset(ctx, "acct:"+account); err != nil {
		s.log.WarnContext(ctx, "resetting an account's limit failed", "err", err)
	}
}

// clientAddr is the client's address, from forwarding headers only when
// the peer is a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	return ratelimit.ClientIP(r, s.cfg.Limits.TrustedProxies)
}

// ip is the client's address as the audit log and sessions record it.
func (s *Server) ip(r *http.Request) string { return s.clientAddr(r).String() }

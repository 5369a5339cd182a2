package issuer

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/waxseal/waxseal/ratelimit"
)

// Limiter is a brute-force limit: package ratelimit has one in memory (a
// single instance) and one in Redis (limits that hold across instances).
type Limiter interface {
	Allow(ctx context.Context, key string, now time.Time) (ratelimit.Decision, error)
	Peek(ctx context.Context, key string, now time.Time) (ratelimit.Decision, error)
	Reset(ctx context.Context, key string) error
}

// Limits are the brute-force limits of the token, password and signup
// endpoints. Nil limiters default to in-memory ones with ratelimit's default
// policies.
//
// They stop guessing, not work. Every password attempt takes a token from
// its account's bucket (a correct password gives the bucket back); a client
// network's bucket and a client's bucket lose a token only for a wrong
// password or client secret, so a resource server introspecting thousands of
// tokens a second, or many services and users behind one address, are never
// refused for succeeding.
type Limits struct {
	Account Limiter // per canonical user name: every password attempt
	IP      Limiter // per client network (an IPv4 address, an IPv6 /64): failed attempts, and signups
	Client  Limiter // per client ID: failed client authentications
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

// secretCheck is one check of a password or a client secret under the
// limits: admit before it, then failed or passed after it.
type secretCheck struct {
	s       *Server
	r       *http.Request
	network string // the client network's key
	account string // "acct:<name>" or "client:<id>"; empty for none
}

// admit asks the limits whether a password (for the canonical user name
// name) or a client secret (client set) may be checked now. The client
// network must not be over its budget of failures; a password attempt also
// takes a token from the account, so that guesses on one account are
// limited however they are spread over networks, before any hash is
// computed. It returns an error answered 429 with Retry-After when a limit
// is reached, and 503 when a limit cannot be checked (fail closed).
func (s *Server) admit(r *http.Request, name, client string) (*secretCheck, error) {
	ctx, now := r.Context(), s.now()
	c := &secretCheck{s: s, r: r, network: "ip:" + ratelimit.ClientNetwork(s.clientAddr(r)).String()}
	d, err := s.cfg.Limits.IP.Peek(ctx, c.network, now)
	if err != nil {
		return nil, s.limitUnavailable(ctx, err)
	}
	if !d.Allowed {
		// Take the attempt anyway, to earn the network its backoff.
		return nil, s.take(ctx, s.cfg.Limits.IP, c.network, now)
	}
	switch {
	case client != "":
		c.account = "client:" + client
	case name != "":
		c.account = "acct:" + name
		if err := s.take(ctx, s.cfg.Limits.Account, c.account, now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// failed counts a wrong password or client secret against the client
// network and, for a client, against the client ID. A client whose failures
// are over its budget gets 429 instead of 401 (its right secret still
// works). Only a failure to reach the limits is returned otherwise: the
// attempt is answered as the check said.
func (c *secretCheck) failed() error {
	ctx, now := c.r.Context(), c.s.now()
	if _, err := c.s.cfg.Limits.IP.Allow(ctx, c.network, now); err != nil {
		return c.s.limitUnavailable(ctx, err)
	}
	if strings.HasPrefix(c.account, "client:") {
		return c.s.take(ctx, c.s.cfg.Limits.Client, c.account, now)
	}
	return nil
}

// passed tells the account's limit that its owner proved the password, so
// the owner's own typos do not count against the next login.
func (c *secretCheck) passed() {
	if !strings.HasPrefix(c.account, "acct:") {
		return
	}
	if err := c.s.cfg.Limits.Account.Reset(c.r.Context(), c.account); err != nil {
		c.s.log.WarnContext(c.r.Context(), "resetting an account's limit failed", "err", err)
	}
}

// limitSignup applies the network's limit to a signup: every signup counts,
// so that one network cannot create accounts in bulk.
func (s *Server) limitSignup(r *http.Request) error {
	network := ratelimit.ClientNetwork(s.clientAddr(r)).String()
	return s.take(r.Context(), s.cfg.Limits.IP, "signup:"+network, s.now())
}

func (s *Server) take(ctx context.Context, l Limiter, key string, now time.Time) error {
	d, err := l.Allow(ctx, key, now)
	if err != nil {
		return s.limitUnavailable(ctx, err)
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

func (s *Server) limitUnavailable(ctx context.Context, err error) error {
	s.log.ErrorContext(ctx, "brute-force limit unavailable; refusing", "err", err)
	return &oauthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Description: "try again shortly", header: http.Header{"Retry-After": {"5"}}}
}

// clientAddr is the client's address, from forwarding headers only when
// the peer is a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	return ratelimit.ClientIP(r, s.cfg.Limits.TrustedProxies)
}

// ip is the client's address as the audit log and sessions record it.
func (s *Server) ip(r *http.Request) string { return s.clientAddr(r).String() }

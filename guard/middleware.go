package guard

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/waxseal/waxseal/token"
)

type verifiedKey struct{}

// verified is what a guard middleware puts in the request context: the
// claims, the guard that verified them, and whether an inner middleware
// refused the request (so the outer one does not count it as allowed).
type verified struct {
	g       *Guard
	c       *token.Claims
	refused bool
}

// ClaimsFrom returns the verified claims a guard middleware put in the
// request's context. The claims may be shared: treat them as read-only.
func ClaimsFrom(ctx context.Context) (*token.Claims, bool) {
	v, ok := ctx.Value(verifiedKey{}).(*verified)
	if !ok {
		return nil, false
	}
	return v.c, true
}

// Require lets a request through only with a valid, unrevoked bearer token,
// and puts its claims in the request context.
func (g *Guard) Require(next http.Handler) http.Handler {
	return g.protect(next, "", nil)
}

// RequireRole is Require plus the role in the token's "roles"; a valid
// token without it is answered 403.
func (g *Guard) RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return g.protect(next, "", func(c *token.Claims) bool { return c.HasRole(role) })
	}
}

// RequireScope is Require plus the scope in the token's "scope"; a valid
// token without it is answered 403 insufficient_scope naming the scope.
func (g *Guard) RequireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return g.protect(next, scope, func(c *token.Claims) bool { return c.HasScope(scope) })
	}
}

// protect verifies the request's token, unless an outer middleware of the
// same guard already did (a guard for another issuer or audience verifies
// again), then applies check. Only the layer that verified counts the
// request, once, when it returns.
func (g *Guard) protect(next http.Handler, scope string, check func(*token.Claims) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := r.Context().Value(verifiedKey{}).(*verified)
		outermost := !ok || v.g != g
		if outermost {
			c, ok := g.authenticate(w, r)
			if !ok {
				return
			}
			v = &verified{g: g, c: c}
			r = r.WithContext(context.WithValue(r.Context(), verifiedKey{}, v))
		}
		if check != nil && !check(v.c) {
			v.refused = true
			g.stats.refused.Add(1)
			g.log.InfoContext(r.Context(), "guard: insufficient role or scope", "sub", v.c.Subject, "path", r.URL.Path)
			desc := "the token lacks the role this resource requires"
			if scope != "" {
				desc = "the token lacks scope " + scope
			}
			WriteError(w, http.StatusForbidden, "insufficient_scope", desc)
			return
		}
		next.ServeHTTP(w, r)
		if outermost && !v.refused {
			g.stats.allowed.Add(1)
		}
	})
}

// authenticate answers the request itself and returns false unless it
// carries a valid token and the feed policy lets it through.
func (g *Guard) authenticate(w http.ResponseWriter, r *http.Request) (*token.Claims, bool) {
	raw, err := BearerToken(r)
	if err != nil {
		g.stats.refused.Add(1)
		if errors.Is(err, ErrNoToken) {
			WriteError(w, http.StatusUnauthorized, "", "")
		} else {
			WriteError(w, http.StatusBadRequest, "invalid_request", "send the token once, in an Authorization: Bearer header")
		}
		return nil, false
	}
	if !g.hasKeys() {
		// Without the issuer's keys no token can be told good or bad: the
		// service is not ready, which is not the client's fault.
		g.stats.failedClosed.Add(1)
		g.log.WarnContext(r.Context(), "guard: the issuer's keys have not arrived; answering 503", "path", r.URL.Path, "err", g.ReadyErr())
		w.Header().Set("Retry-After", strconv.Itoa(5))
		WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "not ready: the issuer's keys have not been fetched yet; retry later")
		return nil, false
	}
	c, err := g.verifier.Verify(r.Context(), raw)
	if err != nil {
		g.stats.refused.Add(1)
		// The detail may quote the token: it goes to the log only.
		g.log.InfoContext(r.Context(), "guard: token refused", "path", r.URL.Path, "err", err)
		WriteError(w, http.StatusUnauthorized, "invalid_token", refusal(err))
		return nil, false
	}
	if !g.Ready() {
		if !g.failOpen {
			g.stats.failedClosed.Add(1)
			g.log.WarnContext(r.Context(), "guard: revocation feed is stale; failing closed", "path", r.URL.Path)
			w.Header().Set("Retry-After", strconv.Itoa(5))
			WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "revocation status unknown; retry later")
			return nil, false
		}
		g.stats.failedOpen.Add(1)
		g.log.WarnContext(r.Context(), "guard: revocation feed is stale; failing open", "path", r.URL.Path, "sub", c.Subject)
	}
	return c, true
}

// refusal is the client's message for a rejected token: the reason, never
// the token's contents.
func refusal(err error) string {
	switch {
	case errors.Is(err, token.ErrExpired):
		return "the access token expired"
	case errors.Is(err, token.ErrRevoked):
		return "the access token was revoked"
	case errors.Is(err, token.ErrNotYetValid):
		return "the access token is not valid yet"
	case errors.Is(err, token.ErrAudience):
		return "the access token is not for this service"
	case errors.Is(err, token.ErrIssuer), errors.Is(err, token.ErrUnknownKey), errors.Is(err, token.ErrSignature):
		return "the access token was not issued by a trusted issuer"
	}
	return "the access token is malformed"
}

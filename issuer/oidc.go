package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// busyAnswer returns the 503 answer for an error that means "try again
// soon" (the hasher or the limit store is overloaded), or nil.
func (s *Server) busyAnswer(err error) *oauthError {
	if errors.Is(err, password.ErrBusy) {
		return s.errBusy(err)
	}
	var oe *oauthError
	if errors.As(err, &oe) && oe.Status == http.StatusServiceUnavailable {
		return oe
	}
	return nil
}

// validVerifier checks a PKCE code_verifier's form (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// codeGrant redeems an authorization code (RFC 6749 §4.1.3): once, by the
// client it was issued to, with the redirect URI it was issued for, and
// with the PKCE verifier of its challenge. A code presented a second time
// ends the session the first redemption started, so the tokens issued
// from it are revoked everywhere (RFC 6749 §4.1.2, RFC 9700 §4.5).
func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request, params map[string]string, ca clientAuth) error {
	ctx := r.Context()
	code := params["code"]
	if code == "" {
		return invalidRequest("missing code")
	}
	_, digest, ok := parseRefreshToken(code)
	if !ok {
		return invalidGrant("unknown authorization code", nil)
	}
	redirectURI, hasRedirect := params["redirect_uri"]
	verifier := params["code_verifier"]
	now := s.now()
	refresh, refreshDigest := newRefreshToken()
	sess := &waxseal.Session{
		ID: token.NewID(), ClientID: ca.client.ID,
		Created: now, LastUsed: now, Expires: now.Add(s.cfg.SessionLifetime),
		UserAgent: truncate(r.UserAgent(), 256), IP: s.ip(r),
	}
	res, err := s.store.RedeemAuthCode(ctx, waxseal.RedeemParams{
		Digest: digest, Now: now, Session: sess, RefreshDigest: refreshDigest,
		Reuse: s.acct.revocation(waxseal.RevokeSession, "", now),
		Check: func(c *waxseal.AuthCode) error {
			switch {
			case c.ClientID != ca.client.ID:
				return invalidGrant("the authorization code was issued to another client", nil)
			case !now.Before(c.Expires):
				return invalidGrant("the authorization code has expired", nil)
			case c.RedirectURI == "" && hasRedirect && !(len(ca.client.RedirectURIs) == 1 && redirectURI == ca.client.RedirectURIs[0]):
				// Left out at /authorize, the code went to the one
				// registered URI; a client may name that one here.
				return invalidGrant("redirect_uri differs from the one the code was sent to", nil)
			case c.RedirectURI != "" && (c.RedirectURI != redirectURI || !hasRedirect):
				return invalidGrant("redirect_uri differs from the authorization request's", nil)
			case !validVerifier(verifier):
				return invalidGrant("code_verifier is missing or malformed", nil)
			}
			sum := sha256.Sum256([]byte(verifier))
			if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.CodeChallenge)) != 1 {
				return invalidGrant("code_verifier does not match the code_challenge", nil)
			}
			// The session takes what the code was issued with.
			sess.UserID, sess.Scope, sess.Parent = c.UserID, c.Scope, c.Parent
			return nil
		},
	})
	if errors.Is(err, waxseal.ErrNotFound) {
		return invalidGrant("unknown authorization code", err)
	}
	if errors.Is(err, waxseal.ErrStale) {
		return invalidGrant("the sign-in behind the authorization code has ended", err)
	}
	if err != nil {
		return err
	}
	if res.Reused {
		s.applied(res.Revocation, nil)
		s.acct.Audit(ctx, waxseal.AuditEvent{Type: "code_reuse", UserID: res.Code.UserID, SessionID: res.Code.Session,
			ClientID: ca.client.ID, IP: s.ip(r), Detail: "authorization code used twice; the tokens issued from it are revoked"})
		return invalidGrant("authorization code already used; the tokens issued from it have been revoked", nil)
	}
	user, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, waxseal.ErrNotFound) {
		return invalidGrant("the account no longer exists", err)
	}
	if err != nil {
		return err
	}
	if user.Disabled {
		return invalidGrant("the account is disabled", nil)
	}
	s.acct.Audit(ctx, waxseal.AuditEvent{Type: "login", UserID: user.ID, SessionID: sess.ID, ClientID: sess.ClientID, IP: s.ip(r),
		Detail: "authorization code"})
	access, err := s.mintAccess(user, sess, sess.Scope, now)
	if err != nil {
		return err
	}
	resp := tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds()),
		RefreshToken: s.refreshForBody(w, r, ca, sess, refresh, now), Scope: sess.Scope}
	if hasScope(sess.Scope, "openid") {
		if resp.IDToken, err = s.mintIDToken(ca.client, user, res.Code, access, now); err != nil {
			return err
		}
	}
	writeTokens(w, resp)
	return nil
}

func hasScope(scope, s string) bool { return slices.Contains(strings.Fields(scope), s) }

// idTokenAlg is the algorithm of a client's ID tokens.
func (s *Server) idTokenAlg(c *waxseal.Client) jwk.Algorithm {
	if c.IDTokenAlg == "" {
		return jwk.RS256
	}
	return jwk.Algorithm(c.IDTokenAlg)
}

// mintIDToken seals the OpenID Connect ID token of a redeemed code. Its
// sid is the issuer session, which every client the user signed in to
// through it shares, as OpenID Connect logout expects.
func (s *Server) mintIDToken(c *waxseal.Client, user *waxseal.User, code *waxseal.AuthCode, access string, now time.Time) (string, error) {
	alg := s.idTokenAlg(c)
	key, err := s.keys.SignerFor(alg)
	if err != nil {
		return "", fmt.Errorf("issuer: client %s wants %s ID tokens: %w", c.ID, alg, err)
	}
	claims := &token.IDClaims{
		Issuer: s.cfg.Issuer, Subject: user.ID, Audience: []string{c.ID}, AuthorizedParty: c.ID,
		Expiry: now.Add(s.cfg.AccessTTL), IssuedAt: now, AuthTime: code.AuthTime, Nonce: code.Nonce,
		AccessTokenHash: token.AccessTokenHash(alg, access), SessionID: code.Parent,
	}
	if hasScope(code.Scope, "profile") {
		claims.PreferredUsername = user.Name
	}
	return token.MintID(key, claims)
}

// oidcUserinfo is the OpenID Connect UserInfo answer (Core §5.3.2).
type oidcUserinfo struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
}

// handleOIDCUserinfo answers the claims of the bearer's user, for access
// tokens issued with scope openid.
func (s *Server) handleOIDCUserinfo(w http.ResponseWriter, r *http.Request) error {
	c, ok := s.bearer(w, r)
	if !ok {
		return errAnswered
	}
	w.Header().Set("Cache-Control", "no-store")
	if !c.HasScope("openid") {
		return &oauthError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "this needs an access token with scope openid",
			header: http.Header{"Www-Authenticate": {`Bearer realm="waxseal", error="insufficient_scope"`}}}
	}
	u, err := s.store.UserByID(r.Context(), c.Subject)
	if errors.Is(err, waxseal.ErrNotFound) {
		return &oauthError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the account no longer exists",
			header: http.Header{"Www-Authenticate": {`Bearer realm="waxseal", error="invalid_token"`}}}
	}
	if err != nil {
		return err
	}
	info := oidcUserinfo{Subject: u.ID}
	if c.HasScope("profile") {
		info.PreferredUsername = u.Name
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// handleRPLogout is OpenID Connect RP-Initiated Logout. With a valid
// id_token_hint it ends the issuer session the hint names and every
// session started from it, then sends the browser to the
// post_logout_redirect_uri if, and only if, that is registered for the
// hint's client exactly (no open redirect). Without a hint it asks the
// user to confirm with a CSRF-protected form, so a page elsewhere cannot
// sign the user out.
func (s *Server) handleRPLogout(w http.ResponseWriter, r *http.Request) error {
	var raw string
	if r.Method == http.MethodPost {
		params, err := readParams(r)
		if err != nil {
			return s.pageError(w, r, err)
		}
		// The confirmation form posts to a URL that carries the request's
		// own parameters; what the form sends wins.
		v := r.URL.Query()
		for k, x := range params {
			v.Set(k, x)
		}
		raw = v.Encode()
	} else {
		raw = r.URL.RawQuery
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return s.pageError(w, r, pageRefusal("The sign-out request is malformed."))
	}
	ctx := r.Context()
	var client *waxseal.Client
	sid := ""
	if hint := q.Get("id_token_hint"); hint != "" {
		c, err := token.VerifyIDTokenHint(ctx, s.keys, s.cfg.Issuer, hint)
		if err != nil {
			s.log.InfoContext(ctx, "end session: id_token_hint refused", "err", err)
			return s.pageError(w, r, pageRefusal("The sign-out request carries an ID token this service did not issue."))
		}
		if id := q.Get("client_id"); id != "" && !slices.Contains(c.Audience, id) {
			return s.pageError(w, r, pageRefusal("The sign-out request names two different applications."))
		}
		if client, err = s.store.Client(ctx, c.Audience[0]); err != nil && !errors.Is(err, waxseal.ErrNotFound) {
			return s.pageError(w, r, err)
		}
		sid = c.SessionID
	} else if id := q.Get("client_id"); id != "" {
		if client, err = s.store.Client(ctx, id); err != nil && !errors.Is(err, waxseal.ErrNotFound) {
			return s.pageError(w, r, err)
		}
	}
	sso, _, err := s.issuerSession(r)
	if err != nil {
		return s.pageError(w, r, err)
	}
	// The hint may name the session of one client; what ends is the
	// issuer session it was started from, with all its children.
	root := ""
	if sid != "" {
		if root, err = s.rootSession(ctx, sid); err != nil {
			return s.pageError(w, r, err)
		}
	}
	// Without a hint, or with one naming another session than the
	// browser's own (an ID token from before the user signed in again),
	// only the user's confirmation ends the browser's session: a page
	// elsewhere cannot sign the user out, and the relying party is not
	// told "signed out" while the browser still is signed in
	// (RP-Initiated Logout 1.0 §2).
	if sso != nil && (sid == "" || root != sso.ID) {
		csrf := csrfToken(s.sessionCookie(r), "logout", "")
		if r.Method != http.MethodPost || s.crossSite(r) || !hmacEqual(q.Get("csrf_token"), csrf) {
			keep := url.Values{}
			for _, k := range []string{"client_id", "post_logout_redirect_uri", "state", "id_token_hint"} {
				if v := q.Get(k); v != "" {
					keep.Set(k, v)
				}
			}
			action := s.prefix + EndSessionPath
			if len(keep) > 0 {
				action += "?" + keep.Encode()
			}
			if err := s.pages.render(w, pageData{Mode: "logout", Title: "Sign out", Action: action, CSRF: csrf}); err != nil {
				return err
			}
			return errAnswered
		}
		if err := s.applied(s.acct.EndSession(ctx, sso.ID, "logout", s.ip(r))); err != nil {
			return s.pageError(w, r, err)
		}
		s.setCookie(w, "session", "", 0)
	}
	if root != "" {
		if err := s.applied(s.acct.EndSession(ctx, root, "logout", s.ip(r))); err != nil {
			return s.pageError(w, r, err)
		}
		if sso != nil && sso.ID == root {
			s.setCookie(w, "session", "", 0)
		}
	}
	return s.loggedOut(w, r, client, q)
}

// rootSession is the issuer session sid was started from, sid itself when
// it was started from none, or "" when it is gone.
func (s *Server) rootSession(ctx context.Context, sid string) (string, error) {
	x, err := s.store.Session(ctx, sid)
	switch {
	case errors.Is(err, waxseal.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case x.Parent != "":
		return x.Parent, nil
	}
	return sid, nil
}

// loggedOut ends a logout: a redirect to a registered post-logout URI, or
// a page.
func (s *Server) loggedOut(w http.ResponseWriter, r *http.Request, client *waxseal.Client, q url.Values) error {
	if to := q.Get("post_logout_redirect_uri"); to != "" && client != nil && slices.Contains(client.PostLogoutRedirectURIs, to) {
		p := url.Values{}
		if st := q.Get("state"); st != "" {
			p.Set("state", st)
		}
		if len(p) > 0 {
			to = withParams(to, p)
		}
		s.redirect(w, to, http.StatusSeeOther)
		return errAnswered
	}
	if err := s.pages.render(w, pageData{Mode: "message", Title: "Signed out", Message: "You are signed out. You can close this window."}); err != nil {
		return err
	}
	return errAnswered
}

func (s *Server) sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(s.cookieName("session")); err == nil {
		return c.Value
	}
	return ""
}

func hmacEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

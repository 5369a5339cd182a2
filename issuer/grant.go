package issuer

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	params, err := readParams(r)
	if err != nil {
		return err
	}
	grant := params["grant_type"]
	switch grant {
	case "":
		return invalidRequest("missing grant_type")
	case GrantPassword, GrantRefreshToken, GrantClientCredentials, GrantAuthorizationCode:
	default:
		return &oauthError{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Description: "grant_type must be authorization_code, password, refresh_token or client_credentials"}
	}
	ca, err := s.authenticateClient(r, params)
	if err != nil {
		return err
	}
	if err := ca.mayUse(grant); err != nil {
		return err
	}
	switch grant {
	case GrantPassword:
		return s.passwordGrant(w, r, params, ca)
	case GrantRefreshToken:
		return s.refreshGrant(w, r, params, ca)
	case GrantAuthorizationCode:
		return s.codeGrant(w, r, params, ca)
	}
	return s.clientCredentialsGrant(w, r, params, ca)
}

// clientID returns the request's client_id: a public client names itself
// (RFC 6749 §2.2), and nothing is trusted because of the name.
func clientID(params map[string]string) (string, error) {
	id, ok := params["client_id"]
	if !ok {
		return DefaultClientID, nil
	}
	if id == "" || len(id) > 128 || !isVSChars(id) {
		return "", invalidRequest("client_id must be 1 to 128 printable ASCII characters")
	}
	return id, nil
}

// isVSChars reports whether s is made of RFC 6749 Appendix A VSCHARs.
func isVSChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseScope checks a scope parameter (RFC 6749 §3.3): every scope must be
// in allowed when it is not nil (a client's registration; a refresh may only
// narrow its session's scope), or else known to the issuer's scope policy.
// Whether the user is granted each is checked once the user is known.
func (s *Server) parseScope(scope string, allowed map[string]bool) (string, error) {
	if scope == "" {
		return "", nil
	}
	seen := map[string]bool{}
	var out []string
	for _, sc := range strings.Split(scope, " ") {
		if sc == "" || !isScopeToken(sc) {
			return "", &oauthError{Status: http.StatusBadRequest, Code: "invalid_scope", Description: "malformed scope"}
		}
		if allowed != nil && !allowed[sc] || allowed == nil && !s.scopes.known(sc) {
			return "", &oauthError{Status: http.StatusBadRequest, Code: "invalid_scope", Description: "scope " + sc + " is not available"}
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), nil
}

func isScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// errBadLogin is the one answer for an unknown user, a wrong password and a
// disabled account, so the answer tells an attacker nothing.
var errBadLogin = invalidGrant("wrong user name or password", nil)

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, params map[string]string, ca clientAuth) error {
	ctx := r.Context()
	username, pw := params["username"], params["password"]
	if username == "" || pw == "" {
		return invalidRequest("username and password are required")
	}
	client := ca.id
	var clientScopes map[string]bool
	if ca.client != nil {
		clientScopes = map[string]bool{}
		for _, sc := range ca.client.Scopes {
			clientScopes[sc] = true
		}
	}
	scope, err := s.parseScope(params["scope"], clientScopes)
	if err != nil {
		return err
	}

	user, err := s.authenticateUser(r, username, pw, client)
	if err != nil {
		return err
	}
	// Only now, with the password proven, is the user's grant checked:
	// the answer says nothing about an account to someone who cannot log in.
	if err := s.scopes.check(user, scope); err != nil {
		return err
	}
	ip := s.ip(r)

	now := s.now()
	refresh, digest := newRefreshToken()
	sess := &waxseal.Session{
		ID: token.NewID(), UserID: user.ID, ClientID: client, Scope: scope,
		Created: now, LastUsed: now, Expires: now.Add(s.cfg.SessionLifetime),
		UserAgent: truncate(r.UserAgent(), 256), IP: ip, UserEpoch: user.Epoch,
	}
	if err := s.store.CreateSession(ctx, sess, digest); err != nil {
		if errors.Is(err, waxseal.ErrStale) {
			return errBadLogin
		}
		return err
	}
	s.acct.Audit(ctx, waxseal.AuditEvent{Type: "login", UserID: user.ID, SessionID: sess.ID, ClientID: client, IP: ip})
	s.metrics.logins.WithLabelValues("ok").Inc()
	return s.respondTokens(w, user, sess, scope, s.refreshForBody(w, r, ca, sess, refresh, now), now)
}

// authenticateUser checks a user name and password, under the brute-force
// limits, for the password grant and the login page alike. Every path does
// exactly one argon2id computation, so an unknown user costs the same time
// as a wrong password; an unknown user, a wrong password and a disabled
// account all get errBadLogin.
func (s *Server) authenticateUser(r *http.Request, username, pw, client string) (*waxseal.User, error) {
	ctx := r.Context()
	name, nameErr := password.CanonicalName(username)
	pw, pwErr := password.NormalizePassword(pw)
	check, err := s.admit(r, name, "")
	if err != nil {
		return nil, err
	}
	var user *waxseal.User
	if nameErr == nil && pwErr == nil {
		user, err = s.store.UserByName(ctx, name)
		if err != nil && !errors.Is(err, waxseal.ErrNotFound) {
			return nil, err
		}
	}
	ip := s.ip(r)
	if user == nil {
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil {
			return nil, err
		}
		s.acct.Audit(ctx, waxseal.AuditEvent{Type: "login_failed", ClientID: client, IP: ip, Detail: "unknown user"})
		s.metrics.logins.WithLabelValues("failed").Inc()
		if err := check.failed(); err != nil {
			return nil, err
		}
		return nil, errBadLogin
	}
	ok, rehash, err := s.hasher.Verify(ctx, pw, user.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !ok || user.Disabled {
		detail := "wrong password"
		if ok {
			detail = "account disabled"
		}
		s.acct.Audit(ctx, waxseal.AuditEvent{Type: "login_failed", UserID: user.ID, ClientID: client, IP: ip, Detail: detail})
		s.metrics.logins.WithLabelValues("failed").Inc()
		if err := check.failed(); err != nil {
			return nil, err
		}
		return nil, errBadLogin
	}
	check.passed()
	if rehash {
		s.rehash(ctx, user, pw)
	}
	return user, nil
}

// rehash stores a new hash of pw made with the current parameters. A
// failure is logged, not returned: the login itself succeeded.
func (s *Server) rehash(ctx context.Context, user *waxseal.User, pw string) {
	h, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		u := *user
		u.PasswordHash, u.Updated = h, s.now()
		err = s.store.UpdateUser(ctx, &u)
	}
	if err != nil {
		s.log.WarnContext(ctx, "rehashing password failed", "user", user.ID, "err", err)
	}
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, params map[string]string, ca clientAuth) (err error) {
	ctx := r.Context()
	presented := params["refresh_token"]
	if _, inBody := params["refresh_token"]; !inBody && s.cfg.RefreshCookie {
		// Cookie mode: the token comes from the cookie, and only on a
		// cookie request. A refusal deletes the cookie: the session is
		// over, and the page should stop trying.
		if presented = s.refreshCookie(r); presented != "" {
			defer func() {
				var oe *oauthError
				if errors.As(err, &oe) && oe.Code == "invalid_grant" {
					setRefreshCookie(w.Header(), "", 0)
				}
			}()
		}
	}
	if presented == "" {
		return invalidRequest("missing refresh_token")
	}
	raw, digest, ok := parseRefreshToken(presented)
	if !ok {
		return invalidGrant("unknown refresh token", nil)
	}
	// A refresh token is bound to the client it was issued to (RFC 6749
	// §6), checked before the rotation, so that another client presenting
	// it changes nothing. A public client may leave its name out (RFC 6749
	// §3.2.1), but a registered client's token needs that client's
	// credentials.
	sess, err := s.store.SessionByRefresh(ctx, digest)
	if errors.Is(err, waxseal.ErrNotFound) {
		return invalidGrant("unknown refresh token", err)
	}
	if err != nil {
		return err
	}
	if sess.ClientID == LoginClientID {
		// An issuer session's cookie is not a refresh token, though it is
		// stored like one.
		return invalidGrant("unknown refresh token", errors.New("an issuer session cookie presented as a refresh token"))
	}
	if sess.ClientID != ca.id {
		if ca.named {
			return invalidGrant("the refresh token was issued to another client", nil)
		}
		if _, err := s.store.Client(ctx, sess.ClientID); err == nil {
			return errBadClient(errors.New("a registered client's refresh token without its credentials"))
		} else if !errors.Is(err, waxseal.ErrNotFound) {
			return err
		}
	}
	now := s.now()
	successor, successorDigest := newRefreshToken()
	sealed, err := sealSuccessor(raw, digest, successor)
	if err != nil {
		return err
	}
	// The rotation and its audit event commit together.
	res, err := s.store.RotateRefresh(ctx, waxseal.RotateParams{
		Digest: digest, Now: now, Grace: s.cfg.RefreshGrace, Idle: s.cfg.IdleTimeout,
		SuccessorDigest: successorDigest, SuccessorSealed: sealed,
		Reuse: s.acct.revocation(waxseal.RevokeSession, "", now),
		Audit: waxseal.AuditEvent{Type: "refresh", IP: s.ip(r)},
		ReuseAudit: waxseal.AuditEvent{Type: "refresh_reuse", IP: s.ip(r),
			Detail: "rotated refresh token presented after the grace window; session revoked"},
	})
	if errors.Is(err, waxseal.ErrNotFound) {
		return invalidGrant("unknown refresh token", err)
	}
	if err != nil {
		return err
	}
	sess = res.Session
	s.metrics.refreshes.WithLabelValues(outcomeName(res.Outcome)).Inc()
	switch res.Outcome {
	case waxseal.Rotated:
	case waxseal.Replayed:
		if successor, err = openSuccessor(raw, digest, res.SuccessorSealed); err != nil {
			return err
		}
	case waxseal.Reused:
		s.applied(res.Revocation, nil)
		s.acct.logAudit(ctx, waxseal.AuditEvent{Type: "refresh_reuse", UserID: sess.UserID, SessionID: sess.ID,
			ClientID: sess.ClientID, IP: s.ip(r), Detail: "rotated refresh token presented after the grace window; session revoked"})
		return invalidGrant("refresh token already used; the session has been revoked", nil)
	default:
		return invalidGrant("the session has ended", nil)
	}

	allowed := map[string]bool{}
	for _, sc := range strings.Fields(sess.Scope) {
		allowed[sc] = true
	}
	scope := sess.Scope
	if req, ok := params["scope"]; ok {
		if scope, err = s.parseScope(req, allowed); err != nil {
			return err
		}
	}
	user, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, waxseal.ErrNotFound) {
		return invalidGrant("the account no longer exists", err)
	}
	if err != nil {
		return err
	}
	// A scope the user's roles no longer grant is not renewed.
	scope = s.scopes.filter(user, scope)
	if user.Disabled {
		return invalidGrant("the session has ended", nil)
	}
	if res.Outcome == waxseal.Rotated {
		s.acct.logAudit(ctx, waxseal.AuditEvent{Type: "refresh", UserID: user.ID, SessionID: sess.ID, ClientID: sess.ClientID, IP: s.ip(r)})
	}
	return s.respondTokens(w, user, sess, scope, s.refreshForBody(w, r, ca, sess, successor, now), now)
}

func outcomeName(o waxseal.RotateOutcome) string {
	switch o {
	case waxseal.Rotated:
		return "rotated"
	case waxseal.Replayed:
		return "replayed"
	case waxseal.Reused:
		return "reused"
	}
	return "inactive"
}

// respondTokens mints an access token for user in sess and writes the token
// response with refresh.
func (s *Server) respondTokens(w http.ResponseWriter, user *waxseal.User, sess *waxseal.Session, scope, refresh string, now time.Time) error {
	access, err := s.mintAccess(user, sess, scope, now)
	if err != nil {
		return err
	}
	writeTokens(w, tokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds()),
		RefreshToken: refresh, Scope: scope,
	})
	return nil
}

// mintAccess mints an access token for user in sess.
func (s *Server) mintAccess(user *waxseal.User, sess *waxseal.Session, scope string, now time.Time) (string, error) {
	key, err := s.keys.Signer()
	if err != nil {
		return "", err
	}
	return token.Mint(key, &token.Claims{
		Issuer: s.cfg.Issuer, Subject: user.ID, Audience: s.audience,
		Expiry: now.Add(s.cfg.AccessTTL), IssuedAt: now, ID: token.NewID(),
		ClientID: sess.ClientID, SessionID: sess.ID, Scope: scope, Roles: user.Roles,
	})
}

// writeTokens writes a token response, which no cache may keep.
func writeTokens(w http.ResponseWriter, t tokenResponse) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, t)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

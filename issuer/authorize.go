package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

// Paths of the sign-in endpoints, relative to the issuer URL's path.
const (
	AuthorizePath  = "/authorize"
	LoginPath      = "/login"
	OIDCUserinfo   = "/userinfo"
	EndSessionPath = "/logout"
	AssetsPath     = "/assets/waxseal.css"
)

const (
	// CodeTTL is how long an authorization code may wait to be redeemed.
	CodeTTL = 60 * time.Second
	// LoginClientID is the client ID of issuer sessions: the sessions the
	// login page starts, which the single sign-on cookie stands for.
	LoginClientID = reservedClientPrefix + "login"
	// loginFormTTL is how long the pre-login cookie, and so a login form,
	// stays good.
	loginFormTTL = 30 * time.Minute
)

// authRequest is a checked authorization request (RFC 6749 §4.1.1, OpenID
// Connect Core §3.1.2.1).
type authRequest struct {
	client      *waxseal.Client
	redirectURI string // as the request gave it; empty when left out
	target      string // where the answer goes
	state       string
	scope       string
	nonce       string
	challenge   string
	loginHint   string
	hintSubject string // the user an id_token_hint names; empty without one
	promptLogin bool
	promptNone  bool
	maxAge      int    // -1 when not asked
	rawQuery    string // the request as received, for the login form's action
}

// redirectError is an authorization error answered at the client's
// redirect URI (RFC 6749 §4.1.2.1).
type redirectError struct {
	target, state, code, desc string
}

func (e *redirectError) Error() string { return e.code + ": " + e.desc }

// pageRefusal is an authorization error that must not go to a redirect URI,
// because the client or the URI is not known: it is shown as a page.
func pageRefusal(desc string) *oauthError {
	return &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

// parseAuthRequest checks an authorization request. Until the client and
// redirect URI are known good, errors are pages; after that they go back
// to the client as a *redirectError.
func (s *Server) parseAuthRequest(ctx context.Context, raw string) (*authRequest, error) {
	q, err := url.ParseQuery(raw)
	if err != nil || len(raw) > maxBody {
		return nil, pageRefusal("The sign-in request is malformed.")
	}
	one := func(k string) (string, bool) {
		v, ok := q[k]
		if !ok {
			return "", true
		}
		return v[0], len(v) == 1
	}
	id, ok := one("client_id")
	if !ok || id == "" || len(id) > 128 || !isVSChars(id) {
		return nil, pageRefusal("The sign-in request names no valid client (client_id).")
	}
	c, err := s.store.Client(ctx, id)
	if errors.Is(err, waxseal.ErrNotFound) {
		return nil, pageRefusal("The application asking you to sign in is not registered here.")
	}
	if err != nil {
		return nil, err
	}
	req := &authRequest{client: c, maxAge: -1, rawQuery: raw}
	redirect, ok := one("redirect_uri")
	switch {
	case !ok:
		return nil, pageRefusal("The sign-in request gives redirect_uri more than once.")
	case redirect == "" && slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		// OpenID Connect Core §3.1.2.1: an authentication request names it.
		return nil, pageRefusal("The sign-in request has no redirect_uri.")
	case redirect == "" && len(c.RedirectURIs) == 1 && checkRedirectURI(c.RedirectURIs[0]) == nil && !strings.HasPrefix(c.RedirectURIs[0], "http:"):
		req.target = c.RedirectURIs[0]
	case redirect == "":
		return nil, pageRefusal("The sign-in request has no redirect_uri.")
	case !matchRedirectURI(c.RedirectURIs, redirect):
		return nil, pageRefusal("The application's redirect_uri is not registered for it.")
	default:
		req.redirectURI, req.target = redirect, redirect
	}
	// From here on the client hears about errors at its redirect URI.
	req.state, ok = one("state")
	fail := func(code, desc string) (*authRequest, error) {
		return nil, &redirectError{target: req.target, state: req.state, code: code, desc: desc}
	}
	for k, v := range q {
		if len(v) > 1 {
			return fail("invalid_request", "parameter "+k+" given more than once")
		}
		if !utf8Valid(v[0]) {
			return fail("invalid_request", "parameters must be valid UTF-8")
		}
	}
	if _, ok := q["request"]; ok {
		return fail("request_not_supported", "request objects are not supported")
	}
	if _, ok := q["request_uri"]; ok {
		return fail("request_uri_not_supported", "request_uri is not supported")
	}
	if _, ok := q["registration"]; ok {
		return fail("registration_not_supported", "registration is not supported")
	}
	if !slices.Contains(c.GrantTypes, GrantAuthorizationCode) {
		return fail("unauthorized_client", "this client may not use the authorization code flow")
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return fail("invalid_request", "response_type is required")
	default:
		return fail("unsupported_response_type", "response_type must be code")
	}
	if m := q.Get("response_mode"); m != "" && m != "query" {
		return fail("invalid_request", "response_mode must be query")
	}
	// PKCE S256 for every client, public or not (RFC 9700 §2.1.1); plain
	// would hand the verifier to whoever sees the request.
	switch q.Get("code_challenge_method") {
	case "S256":
	case "":
		return fail("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
	default:
		return fail("invalid_request", "code_challenge_method must be S256")
	}
	req.challenge = q.Get("code_challenge")
	if len(req.challenge) != 43 || !isBase64URL(req.challenge) {
		return fail("invalid_request", "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)")
	}
	allowed := map[string]bool{}
	for _, sc := range c.Scopes {
		allowed[sc] = true
	}
	if req.scope, err = s.parseScope(q.Get("scope"), allowed); err != nil {
		var oe *oauthError
		errors.As(err, &oe)
		return fail("invalid_scope", oe.Description)
	}
	if p := q.Get("prompt"); p != "" {
		for _, v := range strings.Split(p, " ") {
			switch v {
			case "none":
				req.promptNone = true
			case "login", "select_account":
				req.promptLogin = true
			case "consent":
				// Clients are registered by the operator; there is no
				// consent screen to show.
			default:
				return fail("invalid_request", "unknown prompt value "+strconv.Quote(v))
			}
		}
		if req.promptNone && (req.promptLogin || strings.Contains(p, "consent")) {
			return fail("invalid_request", "prompt=none cannot be combined with other values")
		}
	}
	if v, ok := q["max_age"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 || n > 1<<30 {
			return fail("invalid_request", "max_age must be a non-negative integer")
		}
		req.maxAge = n
	}
	if hint := q.Get("id_token_hint"); hint != "" {
		ic, err := token.VerifyIDTokenHint(ctx, s.keys, s.cfg.Issuer, hint)
		if err != nil {
			return fail("invalid_request", "id_token_hint is not an ID token this issuer issued")
		}
		req.hintSubject = ic.Subject
	}
	req.nonce, req.loginHint = q.Get("nonce"), q.Get("login_hint")
	if len(req.nonce) > 512 || len(req.loginHint) > 256 || len(req.state) > 2048 {
		return fail("invalid_request", "nonce, state or login_hint is too long")
	}
	return req, nil
}

func utf8Valid(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, 0)
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// authorizeQuery returns the raw authorization request: the query of a
// GET, the form body of a POST (OpenID Connect Core §3.1.2.1).
func authorizeQuery(r *http.Request) (string, error) {
	if r.Method != http.MethodPost {
		return r.URL.RawQuery, nil
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return "", pageRefusal("An authorization request sent with POST must be form-encoded.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return "", pageRefusal("The sign-in request is too large.")
	}
	return string(body), nil
}

// handleAuthorize is the authorization endpoint. With a live issuer
// session that satisfies prompt and max_age the user is signed in at once
// (single sign-on); otherwise the login page is shown, or, with
// prompt=none, login_required goes back to the client.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) error {
	raw, err := authorizeQuery(r)
	if err != nil {
		return s.pageError(w, r, err)
	}
	req, err := s.parseAuthRequest(r.Context(), raw)
	if err != nil {
		return s.authError(w, r, err)
	}
	sso, user, err := s.issuerSession(r)
	if err != nil {
		return s.pageError(w, r, err)
	}
	if sso != nil && req.hintSubject != "" && req.hintSubject != user.ID {
		// The client expects another user than the one signed in here
		// (OpenID Connect Core §3.1.2.1): never a code for the wrong account.
		sso, user = nil, nil
	}
	if sso == nil || req.promptLogin || req.maxAge == 0 || (req.maxAge > 0 && s.now().Sub(sso.Created) > time.Duration(req.maxAge)*time.Second) {
		if req.promptNone {
			return s.authError(w, r, &redirectError{target: req.target, state: req.state, code: "login_required",
				desc: "the user must sign in"})
		}
		return s.showLogin(w, r, req, "", "", 0)
	}
	return s.issueCode(w, r, req, user, sso, http.StatusFound)
}

// authError answers an authorization error: at the redirect URI if it is
// a *redirectError, as a page otherwise.
func (s *Server) authError(w http.ResponseWriter, r *http.Request, err error) error {
	var re *redirectError
	if !errors.As(err, &re) {
		return s.pageError(w, r, err)
	}
	p := url.Values{"error": {re.code}, "error_description": {re.desc}, "iss": {s.cfg.Issuer}}
	if re.state != "" {
		p.Set("state", re.state)
	}
	s.redirect(w, withParams(re.target, p), http.StatusFound)
	return errAnswered
}

// redirect sends the browser to target without leaking it to third parties.
func (s *Server) redirect(w http.ResponseWriter, target string, status int) {
	h := w.Header()
	h.Set("Location", target)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
}

// issueCode stores a fresh authorization code for user, bound to the
// client, the redirect URI and the PKCE challenge, and sends it to the
// client with state and iss (RFC 9207).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, user *waxseal.User, sso *waxseal.Session, status int) error {
	code, digest := newRefreshToken()
	now := s.now()
	err := s.store.CreateAuthCode(r.Context(), &waxseal.AuthCode{
		Digest: digest, ClientID: req.client.ID, RedirectURI: req.redirectURI, CodeChallenge: req.challenge,
		Scope: s.scopes.filter(user, req.scope), Nonce: req.nonce, UserID: user.ID, Parent: sso.ID, AuthTime: sso.Created,
		Created: now, Expires: now.Add(CodeTTL),
	})
	if err != nil {
		return s.pageError(w, r, err)
	}
	s.acct.Audit(r.Context(), waxseal.AuditEvent{Type: "authorize", UserID: user.ID, SessionID: sso.ID, ClientID: req.client.ID, IP: s.ip(r)})
	p := url.Values{"code": {code}, "iss": {s.cfg.Issuer}}
	if req.state != "" {
		p.Set("state", req.state)
	}
	s.redirect(w, withParams(req.target, p), status)
	return errAnswered
}

// cookieName is a cookie's name: with the __Host- prefix, which binds it
// to this host, https and path /, unless Config.InsecureCookies.
func (s *Server) cookieName(base string) string {
	if s.cfg.InsecureCookies {
		return "waxseal-" + base
	}
	return "__Host-waxseal-" + base
}

func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", HttpOnly: true,
		Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// issuerSession returns the live issuer session the browser's cookie
// stands for, and its user, or nils.
func (s *Server) issuerSession(r *http.Request) (*waxseal.Session, *waxseal.User, error) {
	c, err := r.Cookie(s.cookieName("session"))
	if err != nil {
		return nil, nil, nil
	}
	_, digest, ok := parseRefreshToken(c.Value)
	if !ok {
		return nil, nil, nil
	}
	ctx := r.Context()
	sess, err := s.store.SessionByRefresh(ctx, digest)
	if errors.Is(err, waxseal.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if sess.ClientID != LoginClientID || !sess.Active(s.now(), s.cfg.IdleTimeout) {
		return nil, nil, nil
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, waxseal.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, nil
	}
	return sess, u, nil
}

// loginNonce returns the browser's pre-login cookie value, setting a fresh
// one if it has none: the key the login form's CSRF token is bound to.
func (s *Server) loginNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cookieName("login")); err == nil {
		if _, _, ok := parseRefreshToken(c.Value); ok {
			return c.Value
		}
	}
	v, _ := newRefreshToken()
	s.setCookie(w, "login", v, loginFormTTL)
	return v
}

// csrfToken binds a login form to the browser's pre-login cookie and to
// the authorization request it answers: a page on another site can
// neither read the cookie nor make the browser send it with a POST
// (SameSite=Lax), so it cannot forge the token.
func csrfToken(nonce, purpose, rawQuery string) string {
	m := hmac.New(sha256.New, []byte(nonce))
	m.Write([]byte("waxseal csrf v1\x00" + purpose + "\x00" + rawQuery))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// showLogin renders the login form for req.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, req *authRequest, username, problem string, status int) error {
	nonce := s.loginNonce(w, r)
	name := req.client.Name
	if name == "" {
		name = req.client.ID
	}
	if username == "" {
		username = req.loginHint
	}
	err := s.pages.render(w, pageData{
		Mode: "login", Title: "Sign in", Client: name, Error: problem, Username: username,
		Action: s.prefix + LoginPath + "?" + req.rawQuery, CSRF: csrfToken(nonce, "login", req.rawQuery),
		Status: status, formTarget: cspSource(req.target),
	})
	if err != nil {
		return err
	}
	return errAnswered
}

// handleLoginPage shows the login form for an authorization request, with
// or without an issuer session.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) error {
	req, err := s.parseAuthRequest(r.Context(), r.URL.RawQuery)
	if err != nil {
		return s.authError(w, r, err)
	}
	return s.showLogin(w, r, req, "", "", 0)
}

// crossSite reports whether a form POST came from another site, by the
// headers browsers set and pages cannot forge. Sec-Fetch-Site decides
// where the browser sends it: the login page's own POST carries
// "Origin: null" in Chromium, because the page's Referrer-Policy is
// no-referrer (Fetch, "serializing a request origin"), and only
// Sec-Fetch-Site still says same-origin. Without it, the Origin decides.
func (s *Server) crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return false
	case "cross-site", "same-site":
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(s.cfg.Issuer)
	return err != nil || origin != u.Scheme+"://"+u.Host
}

// handleLogin checks the login form, starts an issuer session, sets its
// cookie and sends the code to the client. Wrong credentials get the same
// answer and the same limits as the password grant.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, err := s.parseAuthRequest(ctx, r.URL.RawQuery)
	if err != nil {
		return s.authError(w, r, err)
	}
	if s.crossSite(r) {
		return s.pageError(w, r, &oauthError{Status: http.StatusForbidden, Code: "access_denied",
			Description: "This sign-in form was sent from another site, so it was refused.", cause: errors.New("cross-site login POST")})
	}
	params, err := readParams(r)
	if err != nil {
		return s.pageError(w, r, err)
	}
	username := params["username"]
	nonce := ""
	if c, err := r.Cookie(s.cookieName("login")); err == nil {
		nonce = c.Value
	}
	if nonce == "" || !hmac.Equal([]byte(params["csrf_token"]), []byte(csrfToken(nonce, "login", req.rawQuery))) {
		s.log.InfoContext(ctx, "login form refused: CSRF token missing or wrong", "client", req.client.ID)
		return s.showLogin(w, r, req, username, "This form has expired. Please sign in again.", http.StatusForbidden)
	}
	if username == "" || params["password"] == "" {
		return s.showLogin(w, r, req, username, "Enter your user name and password.", http.StatusBadRequest)
	}
	user, err := s.authenticateUser(r, username, params["password"], req.client.ID)
	if err != nil {
		var oe *oauthError
		switch {
		case errors.Is(err, errBadLogin):
			return s.showLogin(w, r, req, username, "Wrong user name or password.", http.StatusUnauthorized)
		case errors.As(err, &oe) && oe.Status == http.StatusTooManyRequests:
			for k, v := range oe.header {
				w.Header()[k] = v
			}
			return s.showLogin(w, r, req, username, "Too many sign-in attempts. Wait "+oe.header.Get("Retry-After")+" seconds, then try again.", oe.Status)
		default:
			if busy := s.busyAnswer(err); busy != nil {
				for k, v := range busy.header {
					w.Header()[k] = v
				}
				return s.showLogin(w, r, req, username, "The service is busy. Please try again in a moment.", busy.Status)
			}
			return s.pageError(w, r, err)
		}
	}
	now := s.now()
	cookie, digest := newRefreshToken()
	sso := &waxseal.Session{
		ID: token.NewID(), UserID: user.ID, ClientID: LoginClientID,
		Created: now, LastUsed: now, Expires: now.Add(s.cfg.SessionLifetime),
		UserAgent: truncate(r.UserAgent(), 256), IP: s.ip(r), UserEpoch: user.Epoch,
	}
	if err := s.store.CreateSession(ctx, sso, digest); err != nil {
		if errors.Is(err, waxseal.ErrStale) {
			// The password changed, or the account was disabled, while
			// this one was being checked.
			return s.showLogin(w, r, req, username, "Wrong user name or password.", http.StatusUnauthorized)
		}
		return s.pageError(w, r, err)
	}
	s.acct.Audit(ctx, waxseal.AuditEvent{Type: "login", UserID: user.ID, SessionID: sso.ID, ClientID: LoginClientID, IP: s.ip(r)})
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.setCookie(w, "session", cookie, s.cfg.SessionLifetime)
	s.setCookie(w, "login", "", 0)
	return s.issueCode(w, r, req, user, sso, http.StatusSeeOther)
}

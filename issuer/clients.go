package issuer

import (
	"context"
	"crypto/rand"
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

// Grant types a registered client may be allowed.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
)

// DefaultSecretOverlap is how long a rotated client secret keeps working.
const DefaultSecretOverlap = 24 * time.Hour

// newSecret returns a client secret of 256 random bits and its digest.
func newSecret() (secret string, digest []byte) {
	var b [32]byte
	rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:]
}

// secretMatches compares in constant time. The secret has 256 bits of
// entropy, so SHA-256 stands in for a slow hash without making every
// client_credentials grant pay for one.
func secretMatches(secret string, digest []byte) bool {
	sum := sha256.Sum256([]byte(secret))
	return len(digest) == sha256.Size && subtle.ConstantTimeCompare(sum[:], digest) == 1
}

// ClientSpec is what registering a client takes; the command line and the
// admin API fill it alike.
type ClientSpec struct {
	ID, Name string
	// GrantTypes default to authorization_code and refresh_token when
	// RedirectURIs are given, else to client_credentials.
	GrantTypes []string
	// Scopes default, for a client that uses authorization_code, to the
	// OpenID Connect scopes: openid, profile, email, offline_access.
	Scopes []string
	Roles  []string
	// RedirectURIs: https, http on a loopback IP literal (any port, RFC
	// 8252 §7.3), or a private-use scheme with a dot (com.example.app:/cb).
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Public clients get no secret and use PKCE alone.
	Public bool
	// IDTokenAlg: RS256 (the default), EdDSA or ES256.
	IDTokenAlg string
}

// OIDCScopes are the OpenID Connect scopes the issuer understands.
var OIDCScopes = []string{"openid", "profile", "email", "offline_access"}

// reservedClientPrefix starts the client ID of the issuer's own login
// sessions; no registered client may take it.
const reservedClientPrefix = "waxseal:"

// CreateClient registers a client and returns it with its secret, which is
// shown this once and stored only as a digest; a public client has none.
// An empty ID is generated.
func (a *Accounts) CreateClient(ctx context.Context, spec ClientSpec) (*waxseal.Client, string, error) {
	id := spec.ID
	if id == "" {
		id = "c_" + token.NewID()
	}
	if len(id) > 128 || !isVSChars(id) || strings.HasPrefix(id, reservedClientPrefix) {
		return nil, "", fmt.Errorf("%w: a client ID is 1 to 128 printable ASCII characters, not starting with %q", errInvalidClient, reservedClientPrefix)
	}
	grants := spec.GrantTypes
	if grants == nil {
		grants = []string{GrantClientCredentials}
		if len(spec.RedirectURIs) > 0 {
			grants = []string{GrantAuthorizationCode, GrantRefreshToken}
		}
	}
	if err := checkClientIDFree(id); err != nil {
		return nil, "", err
	}
	for _, g := range grants {
		switch g {
		case GrantClientCredentials, GrantPassword, GrantRefreshToken, GrantAuthorizationCode:
		default:
			return nil, "", fmt.Errorf("%w: unknown grant type %q", errInvalidClient, g)
		}
	}
	code := slices.Contains(grants, GrantAuthorizationCode)
	switch {
	case spec.Public && slices.Contains(grants, GrantClientCredentials):
		return nil, "", fmt.Errorf("%w: a public client has no secret, so it cannot use client_credentials", errInvalidClient)
	case code && len(spec.RedirectURIs) == 0:
		return nil, "", fmt.Errorf("%w: authorization_code needs at least one redirect URI", errInvalidClient)
	case !code && len(spec.RedirectURIs)+len(spec.PostLogoutRedirectURIs) > 0:
		return nil, "", fmt.Errorf("%w: redirect URIs are for clients that use authorization_code", errInvalidClient)
	}
	for _, u := range append(slices.Clone(spec.RedirectURIs), spec.PostLogoutRedirectURIs...) {
		if err := checkRedirectURI(u); err != nil {
			return nil, "", fmt.Errorf("%w: %w", errInvalidClient, err)
		}
	}
	switch spec.IDTokenAlg {
	case "":
		if code {
			spec.IDTokenAlg = string(jwk.RS256)
		}
	case string(jwk.RS256), string(jwk.EdDSA), string(jwk.ES256):
	default:
		return nil, "", fmt.Errorf("%w: ID-token algorithm must be RS256, EdDSA or ES256", errInvalidClient)
	}
	scopes := spec.Scopes
	if scopes == nil && code {
		scopes = OIDCScopes
	}
	for _, sc := range scopes {
		if !isScopeToken(sc) {
			return nil, "", fmt.Errorf("%w: malformed scope %q", errInvalidClient, sc)
		}
	}
	var secret string
	var digest []byte
	if !spec.Public {
		secret, digest = newSecret()
	}
	now := a.now()
	c := &waxseal.Client{ID: id, Name: spec.Name, SecretDigest: digest, GrantTypes: nonNil(grants), Scopes: nonNil(scopes),
		Roles: nonNil(spec.Roles), RedirectURIs: spec.RedirectURIs, PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs,
		Public: spec.Public, IDTokenAlg: spec.IDTokenAlg, Created: now, Updated: now}
	if err := a.Store.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "client_created", ClientID: id})
	return c, secret, nil
}

// checkClientIDFree refuses a client ID that means something already:
// DefaultClientID, in any case, names the unregistered public client, and a
// registered client of that ID would turn client binding off for everyone
// who uses it; and an ID of a user's form would be the "sub" of the
// client's client_credentials tokens, speaking for that user (and a `sub`
// revocation on deleting the client would end the user's tokens).
func checkClientIDFree(id string) error {
	switch {
	case strings.EqualFold(id, DefaultClientID):
		return fmt.Errorf("%w: client ID %q is reserved for unregistered public clients", errInvalidClient, id)
	case password.HasIDForm(id):
		return fmt.Errorf("%w: client ID %q has the form of a user ID (22 letters, digits, - or _)", errInvalidClient, id)
	}
	return nil
}

// errInvalidClient marks a client registration the caller got wrong.
var errInvalidClient = errors.New("invalid client registration")

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RotateClientSecret gives the client a new secret; the old one keeps
// working for overlap, so the new one can be rolled out without downtime.
func (a *Accounts) RotateClientSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	c, err := a.Store.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", fmt.Errorf("%w: a public client has no secret", errInvalidClient)
	}
	secret, digest := newSecret()
	now := a.now()
	v := *c
	v.PreviousSecretDigest, v.PreviousSecretExpires = c.SecretDigest, now.Add(overlap)
	v.SecretDigest, v.Updated = digest, now
	if overlap <= 0 {
		v.PreviousSecretDigest, v.PreviousSecretExpires = nil, time.Time{}
	}
	if err := a.Store.UpdateClient(ctx, &v); err != nil {
		return "", err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "client_secret_rotated", ClientID: id, Detail: "old secret valid for " + overlap.String()})
	return secret, nil
}

// DeleteClient deletes the client and revokes every token issued to it.
func (a *Accounts) DeleteClient(ctx context.Context, id string) (*waxseal.Revocation, error) {
	r, err := a.Store.DeleteClient(ctx, id, a.subjectRevocation(id, a.now()))
	if err != nil {
		return nil, err
	}
	a.Audit(ctx, waxseal.AuditEvent{Type: "client_deleted", ClientID: id})
	return r, nil
}

// AuthenticateClient returns the client whose ID and secret these are, or
// nil: an unknown client and a wrong secret look the same.
func (a *Accounts) AuthenticateClient(ctx context.Context, id, secret string) (*waxseal.Client, error) {
	c, err := a.Store.Client(ctx, id)
	if errors.Is(err, waxseal.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if secretMatches(secret, c.SecretDigest) ||
		(a.now().Before(c.PreviousSecretExpires) && secretMatches(secret, c.PreviousSecretDigest)) {
		return c, nil
	}
	return nil, nil
}

// clientAuth is what a request says about its client.
type clientAuth struct {
	client *waxseal.Client // the authenticated client, nil for a public one
	id     string          // the client ID, authenticated or not
	named  bool            // the request named its client (a public client may not)
}

// errBadClient is the one answer to a failed client authentication
// (RFC 6749 §5.2).
func errBadClient(cause error) *oauthError {
	return &oauthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client authentication failed",
		cause: cause, header: http.Header{"Www-Authenticate": {`Basic realm="waxseal"`}}}
}

// authenticateClient reads client_secret_basic or client_secret_post
// credentials (never both: RFC 6749 §2.3), or a public client's client_id.
// A registered client that names itself must authenticate.
func (s *Server) authenticateClient(r *http.Request, params map[string]string) (clientAuth, error) {
	ctx := r.Context()
	var id, secret string
	if h := r.Header.Get("Authorization"); h != "" {
		if _, ok := params["client_secret"]; ok {
			return clientAuth{}, invalidRequest("use one client authentication method, not two")
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			return clientAuth{}, errBadClient(errors.New("malformed Basic credentials"))
		}
		// RFC 6749 §2.3.1: both parts are form-encoded before Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || id == "" {
			return clientAuth{}, errBadClient(errors.New("malformed Basic credentials"))
		}
		if p, ok := params["client_id"]; ok && p != id {
			return clientAuth{}, invalidRequest("client_id differs from the authenticated client")
		}
	} else if sec, ok := params["client_secret"]; ok {
		id, secret = params["client_id"], sec
		if id == "" {
			return clientAuth{}, invalidRequest("client_secret without client_id")
		}
	} else {
		id, err := clientID(params)
		if err != nil {
			return clientAuth{}, err
		}
		_, named := params["client_id"]
		if id != DefaultClientID {
			if c, err := s.store.Client(ctx, id); err == nil {
				if c.Public {
					return clientAuth{client: c, id: id, named: named}, nil
				}
				return clientAuth{}, errBadClient(fmt.Errorf("registered client %q sent no credentials", id))
			} else if !errors.Is(err, waxseal.ErrNotFound) {
				return clientAuth{}, err
			}
		}
		return clientAuth{id: id, named: named}, nil
	}
	check, err := s.admit(r, "", id)
	if err != nil {
		return clientAuth{}, err
	}
	c, err := s.acct.AuthenticateClient(ctx, id, secret)
	if err != nil {
		return clientAuth{}, err
	}
	if c == nil {
		// A public client holds no secret; one presenting a secret is
		// someone else, or a client misconfigured in a way worth hearing
		// about.
		if pc, err := s.store.Client(ctx, id); err == nil && pc.Public {
			s.acct.Audit(ctx, waxseal.AuditEvent{Type: "client_auth_failed", ClientID: id, IP: s.ip(r), Detail: "public client presented a secret"})
			return clientAuth{}, errBadClient(errors.New("a public client presented a secret"))
		}
	}
	if c == nil {
		s.acct.Audit(ctx, waxseal.AuditEvent{Type: "client_auth_failed", ClientID: truncate(id, 128), IP: s.ip(r)})
		if err := check.failed(); err != nil {
			return clientAuth{}, err
		}
		return clientAuth{}, errBadClient(nil)
	}
	return clientAuth{client: c, id: c.ID, named: true}, nil
}

// mayUse checks a grant type against a registered client's list.
// Unregistered public clients may use password and refresh_token.
func (ca clientAuth) mayUse(grant string) error {
	if ca.client == nil {
		switch grant {
		case GrantClientCredentials:
			return errBadClient(errors.New("client_credentials without client authentication"))
		case GrantAuthorizationCode:
			return errBadClient(errors.New("authorization_code for an unregistered client"))
		}
		return nil
	}
	if ca.client.Public && grant == GrantClientCredentials {
		return errBadClient(errors.New("client_credentials for a public client"))
	}
	if !slices.Contains(ca.client.GrantTypes, grant) {
		return &oauthError{Status: http.StatusBadRequest, Code: "unauthorized_client",
			Description: "this client may not use grant type " + grant}
	}
	return nil
}

// clientCredentialsGrant issues an access token whose subject is the
// client itself, with no refresh token (RFC 6749 §4.4.3).
func (s *Server) clientCredentialsGrant(w http.ResponseWriter, r *http.Request, params map[string]string, ca clientAuth) error {
	c := ca.client
	allowed := map[string]bool{}
	for _, sc := range c.Scopes {
		allowed[sc] = true
	}
	scope := strings.Join(c.Scopes, " ")
	if req, ok := params["scope"]; ok {
		var err error
		if scope, err = s.parseScope(req, allowed); err != nil {
			return err
		}
	}
	now := s.now()
	key, err := s.keys.Signer()
	if err != nil {
		return err
	}
	access, err := token.Mint(key, &token.Claims{
		Issuer: s.cfg.Issuer, Subject: c.ID, Audience: s.audience,
		Expiry: now.Add(s.cfg.AccessTTL), IssuedAt: now, ID: token.NewID(),
		ClientID: c.ID, Scope: scope, Roles: c.Roles,
	})
	if err != nil {
		return err
	}
	s.acct.Audit(r.Context(), waxseal.AuditEvent{Type: "client_token", ClientID: c.ID, IP: s.ip(r)})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int(s.cfg.AccessTTL.Seconds()), Scope: scope})
	return nil
}

// introspection is the RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Sid       string   `json:"sid,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

// handleIntrospect is RFC 7662 introspection for resource servers that
// cannot verify tokens themselves. The caller authenticates as a client; a
// token is active only if it is valid, unrevoked, and meant for the caller:
// its "aud" lists the caller's client ID (RFC 7662 §4). Anything else,
// refresh tokens included, is {"active": false}.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	params, err := readParams(r)
	if err != nil {
		return err
	}
	ca, err := s.authenticateClient(r, params)
	if err != nil {
		return err
	}
	if ca.client == nil {
		return errBadClient(errors.New("introspection without client authentication"))
	}
	raw := params["token"]
	if raw == "" {
		return invalidRequest("missing token")
	}
	answer := introspection{}
	if c, err := s.verifier.Verify(r.Context(), raw); err == nil && slices.Contains(c.Audience, ca.client.ID) {
		answer = introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer",
			Exp: c.Expiry.Unix(), Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer,
			Jti: c.ID, Sid: c.SessionID, Roles: c.Roles}
		if !c.NotBefore.IsZero() {
			answer.Nbf = c.NotBefore.Unix()
		}
		if u, err := s.store.UserByID(r.Context(), c.Subject); err == nil {
			answer.Username = u.Name
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, answer)
	return nil
}

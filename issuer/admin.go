package issuer

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

// AdminRole is the role every admin endpoint requires.
const AdminRole = "admin"

// userView is a user as the API shows it: never the password hash.
type userViewT struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Roles    []string  `json:"roles"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

func userView(u *waxseal.User) userViewT {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userViewT{ID: u.ID, Name: u.Name, Roles: roles, Disabled: u.Disabled, Created: u.Created.UTC(), Updated: u.Updated.UTC()}
}

// pageParams reads ?after=&limit= with limit 1 to 500, default 100.
func pageParams(r *http.Request) (after string, limit int, err error) {
	q := r.URL.Query()
	limit = 100
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 500 {
			return "", 0, invalidRequest("limit must be 1 to 500")
		}
	}
	return q.Get("after"), limit, nil
}

// adminAudit records an admin action with the admin who took it.
func (s *Server) adminAudit(r *http.Request, c *token.Claims, action, userID, detail string) {
	if detail != "" {
		detail = " " + detail
	}
	s.acct.Audit(r.Context(), waxseal.AuditEvent{Type: "admin_" + action, UserID: userID, SessionID: c.SessionID,
		ClientID: c.ClientID, IP: s.ip(r), Detail: "by " + c.Subject + detail})
}

func notFound(what string) error {
	return &oauthError{Status: http.StatusNotFound, Code: "not_found", Description: "no such " + what}
}

// targetUser loads the user named by the path's {id}.
// staleUser answers 409 for a user whose password changed, or who was
// disabled or revoked, between reading and writing: the write was refused
// so as not to undo that, and the caller should read the user again.
func staleUser(err error) error {
	if errors.Is(err, waxseal.ErrStale) {
		return &oauthError{Status: http.StatusConflict, Code: "conflict", Description: "the user changed meanwhile; read it again", cause: err}
	}
	return err
}

func (s *Server) targetUser(r *http.Request) (*waxseal.User, error) {
	u, err := s.store.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, waxseal.ErrNotFound) {
		return nil, notFound("user")
	}
	return u, err
}

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	users, err := s.store.ListUsers(r.Context(), after, limit, r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	writePage(w, "users", users, limit, userView, func(u *waxseal.User) any { return u.Name })
	return nil
}

// writePage answers one page of a listing: the items, shown through view,
// under key, and "next" (the cursor of the last item, from next) when the
// page is full and more may follow.
func writePage[T, V any](w http.ResponseWriter, key string, items []T, limit int, view func(T) V, next func(T) any) {
	out := make([]V, 0, len(items))
	for _, x := range items {
		out = append(out, view(x))
	}
	page := map[string]any{key: out}
	if len(items) == limit {
		page["next"] = next(items[len(items)-1])
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	var name, pw string
	var roles []string
	if err := readJSON(r, map[string]any{"name": &name, "password": &pw, "roles": &roles}); err != nil {
		return err
	}
	if name == "" || pw == "" {
		return invalidRequest("name and password are required")
	}
	u, err := s.acct.AddUser(r.Context(), name, pw, roles)
	if err != nil {
		return policyError(err)
	}
	s.adminAudit(r, c, "user_created", u.ID, "")
	writeJSON(w, http.StatusCreated, userView(u))
	return nil
}

func (s *Server) adminShowUser(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	sessions, err := s.store.ListSessions(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": userView(u), "sessions": viewSessions(sessions, "")})
	return nil
}

// adminSetDisabled disables (ending every session and revoking every
// token) or enables a user.
func (s *Server) adminSetDisabled(disable bool) func(http.ResponseWriter, *http.Request, *token.Claims) error {
	return func(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
		u, err := s.targetUser(r)
		if err != nil {
			return err
		}
		action := "user_enabled"
		if disable {
			action = "user_disabled"
			err = s.applied(s.acct.EndUser(r.Context(), u.ID, true, action, s.ip(r)))
		} else {
			err = s.acct.EnableUser(r.Context(), u)
		}
		if err != nil {
			return staleUser(err)
		}
		s.adminAudit(r, c, action, u.ID, "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// adminSetRoles replaces a user's roles. Tokens already issued keep their
// roles until they expire; new ones, from the next refresh on, carry these.
func (s *Server) adminSetRoles(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	var roles []string
	if err := readJSON(r, map[string]any{"roles": &roles}); err != nil {
		return err
	}
	if roles == nil {
		return invalidRequest("roles is required")
	}
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	v := *u
	v.Roles, v.Updated = roles, s.now()
	if err := s.store.UpdateUser(r.Context(), &v); err != nil {
		return staleUser(err)
	}
	s.adminAudit(r, c, "roles_set", u.ID, "")
	writeJSON(w, http.StatusOK, userView(&v))
	return nil
}

func (s *Server) adminResetPassword(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	var pw string
	if err := readJSON(r, map[string]any{"password": &pw}); err != nil {
		return err
	}
	if pw == "" {
		return invalidRequest("password is required")
	}
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	if err := s.appliedAll(s.acct.SetPassword(r.Context(), u, pw, "")); err != nil {
		return policyError(err)
	}
	s.adminAudit(r, c, "password_reset", u.ID, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminEndUserSessions(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	if err := s.applied(s.acct.EndUser(r.Context(), u.ID, false, "logout_all", s.ip(r))); err != nil {
		return err
	}
	s.adminAudit(r, c, "sessions_ended", u.ID, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminListKeys(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	writeJSON(w, http.StatusOK, map[string]any{"keys": s.keys.Keys()})
	return nil
}

// adminRotateKey makes a new key that signs at once: an operator who asks
// to rotate now does not want to wait for the publish lead. Verifiers learn
// it by refetching the JWKS on its unknown kid.
func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	info, err := s.keys.RotateNow(r.Context())
	if err != nil {
		return err
	}
	s.adminAudit(r, c, "key_rotated", "", "new key "+info.ID)
	writeJSON(w, http.StatusOK, info)
	return nil
}

// adminCompromiseKey unpublishes a key and revokes every token it signed.
func (s *Server) adminCompromiseKey(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	kid := r.PathValue("kid")
	info, rev, err := s.acct.CompromiseKey(r.Context(), s.keys, kid)
	if errors.Is(err, token.ErrUnknownKey) {
		return notFound("key")
	}
	if err := s.applied(rev, err); err != nil {
		return err
	}
	s.adminAudit(r, c, "key_compromised", "", "key "+kid)
	writeJSON(w, http.StatusOK, info)
	return nil
}

// adminRevoke revokes a user, a session or an access token by its ID.
func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	var kind, id, expires string
	if err := readJSON(r, map[string]any{"kind": &kind, "id": &id, "expires": &expires}); err != nil {
		return err
	}
	if id == "" {
		return invalidRequest("id is required")
	}
	ctx := r.Context()
	var rev *waxseal.Revocation
	var err error
	switch kind {
	case "user":
		rev, err = s.acct.EndUser(ctx, id, false, "revoked", s.ip(r))
	case "session":
		rev, err = s.acct.EndSession(ctx, id, "revoked", s.ip(r))
	case "token":
		var exp time.Time
		if expires != "" {
			if exp, err = time.Parse(time.RFC3339, expires); err != nil {
				return invalidRequest("expires must be an RFC 3339 time")
			}
		}
		rev, err = s.acct.RevokeToken(ctx, id, exp, s.ip(r))
	default:
		return invalidRequest("kind must be user, session or token")
	}
	if errors.Is(err, waxseal.ErrNotFound) {
		return notFound(kind)
	}
	if err := s.applied(rev, err); err != nil {
		return err
	}
	s.adminAudit(r, c, "revoked", "", kind+" "+id)
	out := map[string]any{"revoked": kind, "id": id}
	if rev != nil {
		out["cursor"] = rev.Cursor
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type auditView struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	UserID    string    `json:"user_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	ClientID  string    `json:"client_id,omitempty"`
	IP        string    `json:"ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

func (s *Server) adminAuditLog(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	q := r.URL.Query()
	var before int64
	if b := q.Get("before"); b != "" {
		var err error
		if before, err = strconv.ParseInt(b, 10, 64); err != nil || before < 0 {
			return invalidRequest("before must be a non-negative integer")
		}
	}
	_, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	events, err := s.store.Audit(r.Context(), before, limit, q.Get("user"), q.Get("type"))
	if err != nil {
		return err
	}
	writePage(w, "events", events, limit, func(e waxseal.AuditEvent) auditView {
		return auditView{e.ID, e.Time.UTC(), e.Type, e.UserID, e.SessionID, e.ClientID, e.IP, e.Detail}
	}, func(e waxseal.AuditEvent) any { return e.ID })
	return nil
}

// ClientView is a client as the admin API and the command line show it:
// never a secret or digest.
// The OpenID Connect members carry their RFC 7591 names.
type ClientView struct {
	ID                     string    `json:"client_id"`
	Name                   string    `json:"name"`
	GrantTypes             []string  `json:"grant_types"`
	Scopes                 []string  `json:"scopes"`
	Roles                  []string  `json:"roles"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Public                 bool      `json:"public"`
	IDTokenAlg             string    `json:"id_token_signed_response_alg,omitempty"`
	PreviousSecretExpires  time.Time `json:"previous_secret_expires,omitzero"`
	Created                time.Time `json:"created"`
}

// createdClient answers a registration: the secret is shown this once,
// and a public client has none.
type createdClient struct {
	Client ClientView `json:"client"`
	Secret string     `json:"client_secret,omitempty"`
}

// ViewClient returns c's view.
func ViewClient(c *waxseal.Client) ClientView {
	v := ClientView{ID: c.ID, Name: c.Name, GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes),
		Roles: nonNil(c.Roles), RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		Public: c.Public, IDTokenAlg: c.IDTokenAlg, Created: c.Created.UTC()}
	if !c.PreviousSecretExpires.IsZero() {
		v.PreviousSecretExpires = c.PreviousSecretExpires.UTC()
	}
	return v
}

func (s *Server) adminListClients(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	clients, err := s.store.ListClients(r.Context(), after, limit)
	if err != nil {
		return err
	}
	writePage(w, "clients", clients, limit, ViewClient, func(c *waxseal.Client) any { return c.ID })
	return nil
}

// adminCreateClient registers a client; the answer carries its secret, the
// only time it is shown.
func (s *Server) adminCreateClient(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	var spec ClientSpec
	if err := readJSON(r, map[string]any{"client_id": &spec.ID, "name": &spec.Name, "grant_types": &spec.GrantTypes,
		"scopes": &spec.Scopes, "roles": &spec.Roles, "redirect_uris": &spec.RedirectURIs,
		"post_logout_redirect_uris": &spec.PostLogoutRedirectURIs, "public": &spec.Public,
		"id_token_signed_response_alg": &spec.IDTokenAlg}); err != nil {
		return err
	}
	x, secret, err := s.acct.CreateClient(r.Context(), spec)
	switch {
	case errors.Is(err, errInvalidClient):
		return invalidRequest("%v", err)
	case errors.Is(err, waxseal.ErrConflict):
		return &oauthError{Status: http.StatusConflict, Code: "conflict", Description: "that client ID is taken"}
	case err != nil:
		return err
	}
	s.adminAudit(r, c, "client_created", "", "client "+x.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdClient{Client: ViewClient(x), Secret: secret})
	return nil
}

func (s *Server) adminRotateClientSecret(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	overlap := DefaultSecretOverlap
	if o := r.URL.Query().Get("overlap"); o != "" {
		var err error
		if overlap, err = time.ParseDuration(o); err != nil || overlap < 0 {
			return invalidRequest("overlap must be a duration such as 24h")
		}
	}
	id := r.PathValue("id")
	secret, err := s.acct.RotateClientSecret(r.Context(), id, overlap)
	if errors.Is(err, errInvalidClient) {
		return invalidRequest("%v", err)
	}
	if errors.Is(err, waxseal.ErrNotFound) {
		return notFound("client")
	}
	if err != nil {
		return err
	}
	s.adminAudit(r, c, "client_secret_rotated", "", "client "+id)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"client_id": id, "client_secret": secret,
		"previous_secret_expires": s.now().Add(overlap).UTC()})
	return nil
}

func (s *Server) adminDeleteClient(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	id := r.PathValue("id")
	err := s.applied(s.acct.DeleteClient(r.Context(), id))
	if errors.Is(err, waxseal.ErrNotFound) {
		return notFound("client")
	}
	if err != nil {
		return err
	}
	s.adminAudit(r, c, "client_deleted", "", "client "+id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

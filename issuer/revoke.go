package issuer

import (
	"errors"
	"net/http"
	"strings"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/token"
)

// handleRevoke is the RFC 7009 revocation endpoint. A refresh token ends
// its whole session; an access token is revoked by its jti. A token that is
// unknown, expired or already revoked is answered 200 like any other
// (RFC 7009 §2.2): the caller's goal, that the token not work, is met.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	params, err := readParams(r)
	if err != nil {
		return err
	}
	tok := params["token"]
	if tok == "" {
		return invalidRequest("missing token")
	}
	ctx := r.Context()
	if _, digest, ok := parseRefreshToken(tok); ok {
		sess, err := s.store.SessionByRefresh(ctx, digest)
		switch {
		case errors.Is(err, waxseal.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := s.applied(s.acct.EndSession(ctx, sess.ID, "revoked", s.ip(r))); err != nil {
				return err
			}
		}
	} else if strings.Count(tok, ".") == 2 {
		if c, err := s.verifier.Verify(ctx, tok); err == nil {
			if err := s.applied(s.acct.RevokeToken(ctx, c.ID, c.Expiry, s.ip(r))); err != nil {
				return err
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// bearer returns the verified claims of the request's bearer token, or an
// error already answered in the RFC 6750 shape.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (*token.Claims, bool) {
	raw, err := guard.BearerToken(r)
	switch {
	case errors.Is(err, guard.ErrNoToken):
		guard.WriteError(w, http.StatusUnauthorized, "", "")
		return nil, false
	case err != nil:
		guard.WriteError(w, http.StatusBadRequest, "invalid_request", "malformed Authorization header")
		return nil, false
	}
	c, err := s.verifier.Verify(r.Context(), raw)
	if err != nil {
		s.log.InfoContext(r.Context(), "bearer token refused", "path", r.URL.Path, "err", err)
		guard.WriteError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return nil, false
	}
	return c, true
}

// applied puts a revocation the issuer just committed into its own denylist
// at once, without waiting for the log to come round, and passes err on. It
// leaves the catch-up cursor where it is: another writer's entry may lie
// just below this one, not read yet.
func (s *Server) applied(rev *waxseal.Revocation, err error) error {
	if rev != nil {
		s.denied.Add(*rev)
	}
	return err
}

// appliedAll is applied for several revocations.
func (s *Server) appliedAll(revs []*waxseal.Revocation, err error) error {
	for _, r := range revs {
		s.applied(r, nil)
	}
	return err
}

// errAnswered tells endpoint that the handler already wrote its answer.
var errAnswered = errors.New("answered")

// handleLogout ends the caller's session. In cookie mode a cookie request
// may log out with the refresh cookie alone (its access token may have
// expired), and the cookie is deleted either way.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if s.cookieRequest(r) && r.Header.Get("Authorization") == "" {
		if err := s.endCookieSession(r, ""); err != nil {
			return err
		}
		s.clearRefreshCookie(w, r)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	c, ok := s.bearer(w, r)
	if !ok {
		return errAnswered
	}
	ctx := r.Context()
	var err error
	if c.SessionID != "" {
		err = s.applied(s.acct.EndSession(ctx, c.SessionID, "logout", s.ip(r)))
	} else {
		err = s.applied(s.acct.RevokeToken(ctx, c.ID, c.Expiry, s.ip(r)))
	}
	if err == nil {
		err = s.endCookieSession(r, c.SessionID)
	}
	if err != nil {
		return err
	}
	s.clearRefreshCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	c, ok := s.bearer(w, r)
	if !ok {
		return errAnswered
	}
	var rev *waxseal.Revocation
	var err error
	if c.SessionID == "" {
		// A client's own token: no sessions, but every token of it ends.
		rev, err = s.acct.RevokeSubject(r.Context(), c.Subject, "logout_all", s.ip(r))
	} else {
		rev, err = s.acct.EndUser(r.Context(), c.Subject, false, "logout_all", s.ip(r))
	}
	if err := s.applied(rev, err); err != nil {
		return err
	}
	s.clearRefreshCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type userinfo struct {
	Subject   string   `json:"sub"`
	ClientID  string   `json:"client_id"`
	SessionID string   `json:"sid,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	Roles     []string `json:"roles"`
	Expires   int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	Name      string   `json:"preferred_username,omitempty"`
}

func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) error {
	c, ok := s.bearer(w, r)
	if !ok {
		return errAnswered
	}
	info := userinfo{Subject: c.Subject, ClientID: c.ClientID, SessionID: c.SessionID, Scope: c.Scope,
		Roles: c.Roles, Expires: c.Expiry.Unix(), IssuedAt: c.IssuedAt.Unix()}
	if info.Roles == nil {
		info.Roles = []string{}
	}
	if u, err := s.store.UserByID(r.Context(), c.Subject); err == nil {
		info.Name = u.Name
	} else if !errors.Is(err, waxseal.ErrNotFound) {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, info)
	return nil
}

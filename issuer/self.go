package issuer

import (
	"errors"
	"net/http"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// authed wraps a handler that needs a valid bearer token, and the role
// when role is not empty (403 insufficient_scope without it).
func (s *Server) authed(role string, h func(http.ResponseWriter, *http.Request, *token.Claims) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, ok := s.bearer(w, r)
		if !ok {
			return errAnswered
		}
		// Answers to a bearer are about that bearer: no cache may keep them.
		w.Header().Set("Cache-Control", "no-store")
		if role != "" && !c.HasRole(role) {
			s.log.InfoContext(r.Context(), "refused: missing role", "role", role, "sub", c.Subject, "path", r.URL.Path)
			return &oauthError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "this needs role " + role,
				header: http.Header{"Www-Authenticate": {`Bearer realm="waxseal", error="insufficient_scope"`}}}
		}
		return h(w, r, c)
	}
}

// sessionView is a session as its owner or an admin sees it.
type sessionView struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent,omitempty"`
	IP        string    `json:"ip,omitempty"`
	Current   bool      `json:"current"`
}

func viewSessions(list []*waxseal.Session, current string) []sessionView {
	out := make([]sessionView, 0, len(list))
	for _, x := range list {
		out = append(out, sessionView{ID: x.ID, ClientID: x.ClientID, Created: x.Created.UTC(), LastUsed: x.LastUsed.UTC(),
			Expires: x.Expires.UTC(), UserAgent: x.UserAgent, IP: x.IP, Current: x.ID == current})
	}
	return out
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	list, err := s.store.ListSessions(r.Context(), c.Subject)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"sessions": viewSessions(list, c.SessionID)})
	return nil
}

// handleEndSession ends one of the caller's own sessions. Someone else's
// session is answered like a missing one, so IDs cannot be probed.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	sid := r.PathValue("id")
	x, err := s.store.Session(r.Context(), sid)
	if errors.Is(err, waxseal.ErrNotFound) || (err == nil && x.UserID != c.Subject) {
		return &oauthError{Status: http.StatusNotFound, Code: "not_found", Description: "no such session"}
	}
	if err != nil {
		return err
	}
	if err := s.applied(s.acct.EndSession(r.Context(), sid, "logout", s.ip(r))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleChangePassword sets a new password after checking the current one,
// then ends every other session of the user: whoever else knew the old
// password is logged out.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, c *token.Claims) error {
	var current, next string
	if err := readJSON(r, map[string]any{"current_password": &current, "new_password": &next}); err != nil {
		return err
	}
	if current == "" || next == "" {
		return invalidRequest("current_password and new_password are required")
	}
	ctx := r.Context()
	u, err := s.store.UserByID(ctx, c.Subject)
	if errors.Is(err, waxseal.ErrNotFound) {
		return invalidGrant("the account no longer exists", err)
	}
	if err != nil {
		return err
	}
	// The current password is guessed here as at the token endpoint (by
	// whoever holds a stolen access token), so it shares the limits.
	check, err := s.admit(r, u.Name, "")
	if err != nil {
		return err
	}
	current, err = password.NormalizePassword(current)
	ok := false
	if err == nil {
		ok, _, err = s.hasher.Verify(ctx, current, u.PasswordHash)
		if err != nil {
			return err
		}
	}
	if !ok {
		s.acct.Audit(ctx, waxseal.AuditEvent{Type: "password_change_failed", UserID: u.ID, SessionID: c.SessionID, IP: s.ip(r)})
		if err := check.failed(); err != nil {
			return err
		}
		return &oauthError{Status: http.StatusForbidden, Code: "invalid_grant", Description: "the current password is wrong"}
	}
	check.passed()
	if err := s.appliedAll(s.acct.SetPassword(ctx, u, next, c.SessionID)); err != nil {
		return policyError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// policyError maps a password or user-name rule violation to a 400 whose
// description says what to fix; other errors pass through.
func policyError(err error) error {
	switch {
	case errors.Is(err, password.ErrWeakPassword), errors.Is(err, password.ErrInvalidName):
		return &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: err.Error()}
	case errors.Is(err, waxseal.ErrConflict):
		return &oauthError{Status: http.StatusConflict, Code: "conflict", Description: "that name is taken"}
	}
	return err
}

// handleSignup creates an account, when signup is enabled. The answer does
// not log the user in: the client logs in with the password grant, so
// there is one way in to rate-limit and audit.
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.Signup {
		return &oauthError{Status: http.StatusNotFound, Code: "not_found", Description: "signup is disabled"}
	}
	var name, pw string
	if err := readJSON(r, map[string]any{"username": &name, "password": &pw}); err != nil {
		return err
	}
	if name == "" || pw == "" {
		return invalidRequest("username and password are required")
	}
	if err := s.limitSignup(r); err != nil {
		return err
	}
	u, err := s.acct.AddUser(r.Context(), name, pw, nil)
	if err != nil {
		return policyError(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, userView(u))
	return nil
}

package issuer

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/cors"
)

// Cookie mode (Config.RefreshCookie) keeps a browser app's refresh token
// out of reach of its scripts: the token travels only in an HttpOnly
// cookie, which an XSS can make the browser send but never read.
const (
	// RefreshCookieName is the cookie that holds the refresh token. The
	// __Host- prefix makes the browser refuse it unless it is Secure, has
	// Path=/ and no Domain, so no sibling host can set or shadow it.
	RefreshCookieName = "__Host-waxseal-refresh"
	// CookieRequestHeader must be "1" on every request that receives or
	// uses the refresh cookie. A form or any other simple request cannot
	// carry it, so a request from another origin that has it passed a CORS
	// preflight, which only the listed origins pass.
	CookieRequestHeader = "X-Waxseal-Cookie"
)

// newCORS returns the issuer's CORS policy, or nil without origins. In
// cookie mode credentials are allowed, for the listed origins only.
func newCORS(cfg Config) (*cors.CORS, error) {
	if len(cfg.AllowedOrigins) == 0 {
		if cfg.RefreshCookie {
			return nil, errors.New("issuer: RefreshCookie needs AllowedOrigins: the origins of the apps that use the cookie")
		}
		return nil, nil
	}
	cc := cors.Config{AllowedOrigins: cfg.AllowedOrigins}
	if cfg.RefreshCookie {
		cc.AllowCredentials = true
		cc.AllowedHeaders = append(append([]string{}, cors.DefaultAllowedHeaders...), CookieRequestHeader)
	}
	c, err := cors.New(cc)
	if err != nil {
		return nil, err
	}
	if cfg.RefreshCookie {
		u, err := url.Parse(cfg.Issuer)
		if err != nil {
			return nil, err
		}
		// The browser keeps a Secure cookie only from a secure origin:
		// https, or http on loopback while developing.
		if u.Scheme != "https" && !loopbackHost(u.Hostname()) {
			return nil, errors.New("issuer: RefreshCookie needs an https issuer URL (the cookie is Secure)")
		}
	}
	return c, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// cookieRequest reports whether r may receive or use the refresh cookie:
// the issuer is in cookie mode and r carries CookieRequestHeader and an
// Origin from the list. A cross-site form, an <img> or a simple fetch
// fails the test and gets no cookie and no tokens.
func (s *Server) cookieRequest(r *http.Request) bool {
	if !s.cfg.RefreshCookie || r.Header.Get(CookieRequestHeader) != "1" {
		return false
	}
	o := r.Header.Values("Origin")
	return len(o) == 1 && s.cors.Allows(o[0])
}

// refreshCookie returns the refresh token in r's cookie, if r may use it.
func (s *Server) refreshCookie(r *http.Request) string {
	if !s.cookieRequest(r) {
		return ""
	}
	c, err := r.Cookie(RefreshCookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// refreshForBody decides where a new refresh token goes. Outside cookie
// mode, and for a confidential client (a server, where no script can
// steal it), in the JSON body. In cookie mode a public client gets it only
// in the cookie, and only on a cookie request; the body never has it.
func (s *Server) refreshForBody(w http.ResponseWriter, r *http.Request, ca clientAuth, sess *waxseal.Session, refresh string, now time.Time) string {
	if !s.cfg.RefreshCookie || (ca.client != nil && !ca.client.Public) {
		return refresh
	}
	if s.cookieRequest(r) {
		setRefreshCookie(w.Header(), refresh, sess.Expires.Sub(now))
	}
	return ""
}

func setRefreshCookie(h http.Header, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: RefreshCookieName, Value: value, Path: "/",
		MaxAge: max(1, int(maxAge/time.Second)), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	}
	if value == "" {
		c.MaxAge = -1 // Max-Age=0: delete it
	}
	h.Add("Set-Cookie", c.String())
}

// clearRefreshCookie deletes the cookie, on a cookie request.
func (s *Server) clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	if s.cookieRequest(r) {
		setRefreshCookie(w.Header(), "", 0)
	}
}

// endCookieSession ends the session of the refresh token in r's cookie,
// for a logout that carries no bearer token (the access token may have
// expired, or the page just reloaded).
func (s *Server) endCookieSession(r *http.Request, except string) error {
	raw := s.refreshCookie(r)
	if raw == "" {
		return nil
	}
	_, digest, ok := parseRefreshToken(raw)
	if !ok {
		return nil
	}
	sess, err := s.store.SessionByRefresh(r.Context(), digest)
	if errors.Is(err, waxseal.ErrNotFound) {
		return nil
	}
	if err != nil || sess.ID == except {
		return err
	}
	return s.applied(s.acct.EndSession(r.Context(), sess.ID, "logout", s.ip(r)))
}

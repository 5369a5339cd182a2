package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/waxseal/waxseal/internal/strictjson"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// maxBody bounds request bodies. A token request is a few hundred bytes.
const maxBody = 16 << 10

func (s *Server) routes() {
	p := s.prefix
	// RFC 8414 §3.1 puts the well-known suffix before the issuer's path;
	// OpenID Connect Discovery appends it. Both are served.
	s.mux.Handle("/.well-known/oauth-authorization-server"+p, s.endpoint("metadata", methods{"GET": s.handleMetadata}))
	s.mux.Handle(p+"/.well-known/openid-configuration", s.endpoint("metadata", methods{"GET": s.handleMetadata}))
	s.mux.Handle(p+JWKSPath, s.endpoint("jwks", methods{"GET": s.handleJWKS}))
	s.mux.Handle(p+OpenAPIPath, s.endpoint("openapi", methods{"GET": s.handleOpenAPI}))
	s.mux.Handle(p+TokenPath, s.endpoint("token", methods{"POST": s.handleToken}))
	s.mux.Handle(p+RevokePath, s.endpoint("revoke", methods{"POST": s.handleRevoke}))
	s.mux.Handle(p+IntrospectPath, s.endpoint("introspect", methods{"POST": s.handleIntrospect}))
	s.mux.Handle(p+LogoutPath, s.endpoint("logout", methods{"POST": s.handleLogout}))
	s.mux.Handle(p+LogoutAllPath, s.endpoint("logout_all", methods{"POST": s.handleLogoutAll}))
	s.mux.Handle(p+UserinfoPath, s.endpoint("userinfo", methods{"GET": s.handleUserinfo}))
	s.mux.Handle(p+OIDCUserinfo, s.endpoint("oidc_userinfo", methods{"GET": s.handleOIDCUserinfo, "POST": s.handleOIDCUserinfo}))
	s.mux.Handle(p+AuthorizePath, s.endpoint("authorize", methods{"GET": s.handleAuthorize, "POST": s.handleAuthorize}))
	s.mux.Handle(p+LoginPath, s.endpoint("login", methods{"GET": s.handleLoginPage, "POST": s.handleLogin}))
	s.mux.Handle(p+EndSessionPath, s.endpoint("end_session", methods{"GET": s.handleRPLogout, "POST": s.handleRPLogout}))
	s.mux.Handle(p+AssetsPath, s.endpoint("assets", methods{"GET": s.handleCSS}))
	s.mux.Handle(p+RevocationsPath, s.endpoint("revocations", methods{"GET": s.handleRevocations}))
	s.mux.Handle(p+SessionsPath, s.endpoint("sessions", methods{"GET": s.authed("", s.handleSessions)}))
	s.mux.Handle(p+SessionsPath+"/{id}", s.endpoint("end_session", methods{"DELETE": s.authed("", s.handleEndSession)}))
	s.mux.Handle(p+PasswordPath, s.endpoint("password", methods{"POST": s.authed("", s.handleChangePassword)}))
	s.mux.Handle(p+SignupPath, s.endpoint("signup", methods{"POST": s.handleSignup}))

	admin := func(h func(http.ResponseWriter, *http.Request, *token.Claims) error) func(http.ResponseWriter, *http.Request) error {
		return s.authed(AdminRole, h)
	}
	a := p + AdminPath
	s.mux.Handle(a+"/users", s.endpoint("admin_users", methods{"GET": admin(s.adminListUsers), "POST": admin(s.adminCreateUser)}))
	s.mux.Handle(a+"/users/{id}", s.endpoint("admin_user", methods{"GET": admin(s.adminShowUser)}))
	s.mux.Handle(a+"/users/{id}/disable", s.endpoint("admin_user_disable", methods{"POST": admin(s.adminSetDisabled(true))}))
	s.mux.Handle(a+"/users/{id}/enable", s.endpoint("admin_user_enable", methods{"POST": admin(s.adminSetDisabled(false))}))
	s.mux.Handle(a+"/users/{id}/roles", s.endpoint("admin_user_roles", methods{"PUT": admin(s.adminSetRoles)}))
	s.mux.Handle(a+"/users/{id}/password", s.endpoint("admin_user_password", methods{"POST": admin(s.adminResetPassword)}))
	s.mux.Handle(a+"/users/{id}/logout", s.endpoint("admin_user_logout", methods{"POST": admin(s.adminEndUserSessions)}))
	s.mux.Handle(a+"/clients", s.endpoint("admin_clients", methods{"GET": admin(s.adminListClients), "POST": admin(s.adminCreateClient)}))
	s.mux.Handle(a+"/clients/{id}", s.endpoint("admin_client", methods{"DELETE": admin(s.adminDeleteClient)}))
	s.mux.Handle(a+"/clients/{id}/secret", s.endpoint("admin_client_secret", methods{"POST": admin(s.adminRotateClientSecret)}))
	s.mux.Handle(a+"/keys", s.endpoint("admin_keys", methods{"GET": admin(s.adminListKeys)}))
	s.mux.Handle(a+"/keys/rotate", s.endpoint("admin_keys_rotate", methods{"POST": admin(s.adminRotateKey)}))
	s.mux.Handle(a+"/keys/{kid}/compromise", s.endpoint("admin_key_compromise", methods{"POST": admin(s.adminCompromiseKey)}))
	s.mux.Handle(a+"/revocations", s.endpoint("admin_revoke", methods{"POST": admin(s.adminRevoke)}))
	s.mux.Handle(a+"/audit", s.endpoint("admin_audit", methods{"GET": admin(s.adminAuditLog)}))
	s.mux.Handle(p+LivePath, s.endpoint("livez", methods{"GET": func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := io.WriteString(w, "ok\n")
		return err
	}}))
	s.mux.Handle(p+ReadyPath, s.endpoint("readyz", methods{"GET": s.handleReady}))
	// Everything else: a JSON 404 rather than the mux's text one.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &oauthError{Status: http.StatusNotFound, Code: "not_found", Description: "no such endpoint"})
	})
}

// oauthError is an error answered in the RFC 6749 §5.2 shape. Description
// is for the client; cause is only logged.
type oauthError struct {
	Status      int
	Code        string
	Description string
	cause       error
	header      http.Header // extra headers, such as WWW-Authenticate or Retry-After
}

func (e *oauthError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.cause)
	}
	return e.Code + ": " + e.Description
}

func (e *oauthError) Unwrap() error { return e.cause }

func invalidRequest(format string, args ...any) *oauthError {
	return &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: fmt.Sprintf(format, args...)}
}

func invalidGrant(desc string, cause error) *oauthError {
	return &oauthError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: desc, cause: cause}
}

// errBusy answers a request the password hasher had no room for.
func (s *Server) errBusy(cause error) *oauthError {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(max(1, int(s.hasher.RetryAfter().Seconds()))))
	return &oauthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Description: "too many logins in progress; retry later", cause: cause, header: h}
}

// methods maps each HTTP method an endpoint answers to its handler.
type methods map[string]func(http.ResponseWriter, *http.Request) error

// endpoint wraps handlers that return errors: it picks the one for the
// request's method (405 with Allow otherwise), maps its error to an answer
// in one place, and counts the outcome.
func (s *Server) endpoint(name string, ms methods) http.Handler {
	allow := make([]string, 0, len(ms))
	for m := range ms {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := ms[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, &oauthError{Status: http.StatusMethodNotAllowed, Code: "invalid_request",
				Description: "method must be " + strings.Join(allow, " or ")})
			s.metrics.requests.WithLabelValues(name, "405").Inc()
			return
		}
		err := h(w, r)
		status := "200"
		switch {
		case errors.Is(err, errAnswered):
			status = "4xx"
		case err != nil:
			status = strconv.Itoa(s.writeError(w, r, err))
		}
		s.metrics.requests.WithLabelValues(name, status).Inc()
	})
}

// writeError answers err and returns the status sent. Errors that are not
// an *oauthError are the server's fault: logged in full, answered with a
// bare server_error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	var oe *oauthError
	if !errors.As(err, &oe) {
		if errors.Is(err, password.ErrBusy) {
			oe = s.errBusy(err)
		} else {
			s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
			oe = &oauthError{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
		}
	} else if oe.cause != nil {
		s.log.InfoContext(r.Context(), "request refused", "path", r.URL.Path, "code", oe.Code, "err", oe.cause)
	}
	for k, v := range oe.header {
		w.Header()[k] = v
	}
	w.Header().Set("Cache-Control", "no-store")
	body := map[string]string{"error": oe.Code}
	if oe.Description != "" {
		body["error_description"] = oe.Description
	}
	writeJSON(w, oe.Status, body)
	return oe.Status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the server's own types are written; this cannot happen.
		panic(err)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readParams reads an RFC 6749 request body: application/x-www-form-urlencoded
// as the RFC says, or a JSON object of strings for clients that prefer it.
// A parameter given twice, invalid UTF-8, a body over maxBody and any other
// content type are invalid_request (RFC 6749 §3.1, §3.2).
func readParams(r *http.Request) (map[string]string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, invalidRequest("Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, invalidRequest("reading the request body failed")
	}
	if len(body) > maxBody {
		return nil, invalidRequest("request body over %d bytes", maxBody)
	}
	if !utf8.Valid(body) {
		return nil, invalidRequest("request body is not valid UTF-8")
	}
	params := map[string]string{}
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, invalidRequest("malformed form body")
		}
		for k, v := range vals {
			if len(v) != 1 {
				return nil, invalidRequest("parameter %q given more than once", k)
			}
			params[k] = v[0]
		}
	case "application/json":
		d := strictjson.NewDecoder(body)
		err := d.Document(func(name []byte) error {
			v, err := d.String()
			params[string(name)] = v
			return err
		})
		if err != nil {
			return nil, invalidRequest("malformed JSON body: must be one object of string members, each once")
		}
	default:
		return nil, invalidRequest("Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	for k, v := range params {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, invalidRequest("parameters must be valid UTF-8")
		}
		if strings.ContainsRune(v, 0) {
			return nil, invalidRequest("parameter %q contains a NUL character", k)
		}
	}
	return params, nil
}

// Metrics returns the handler of GET /metrics (Prometheus), for a listener
// of the operator's choosing: the public handler does not serve it, since
// request and login-failure counts and pool waits tell an attacker how an
// attack goes. waxseal serve puts it on --metrics-listen, loopback by
// default.
func (s *Server) Metrics() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(s.cfg.Registerer, promhttp.HandlerOpts{}))
	return mux
}

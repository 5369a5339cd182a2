// Package issuer is waxseal's authorization server: the only process that
// holds signing keys. It publishes what verifiers need to check tokens on
// their own, its RFC 8414 metadata and its JWKS, so that no verifier ever
// has to call it per request.
package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/waxseal/waxseal/discovery"
	"github.com/waxseal/waxseal/keyring"
)

// Paths of the endpoints, relative to the issuer URL's path.
const (
	JWKSPath = "/jwks.json"
	LivePath = "/livez"
)

// Config describes an issuer.
type Config struct {
	// Issuer is the public base URL that goes into every token's "iss" and
	// into the metadata. Required; https unless on loopback.
	Issuer string
	// Keys holds the signing keys. Required.
	Keys *keyring.Ring
	// Logger receives request errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Server serves the issuer's endpoints.
type Server struct {
	issuer string
	prefix string // the issuer URL's path, without a trailing slash
	keys   *keyring.Ring
	log    *slog.Logger
	mux    *http.ServeMux
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Keys == nil {
		return nil, errors.New("issuer: Config.Keys is required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("issuer: %q is not an absolute URL without query or fragment", cfg.Issuer)
	}
	s := &Server{
		issuer: cfg.Issuer,
		prefix: strings.TrimSuffix(u.Path, "/"),
		keys:   cfg.Keys,
		log:    cfg.Logger,
		mux:    http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// RFC 8414 §3.1 puts the well-known suffix before the issuer's path;
	// OpenID Connect Discovery appends it. Both are served.
	s.mux.HandleFunc("GET /.well-known/oauth-authorization-server"+s.prefix, s.metadata)
	s.mux.HandleFunc("GET "+s.prefix+"/.well-known/openid-configuration", s.metadata)
	s.mux.HandleFunc("GET "+s.prefix+JWKSPath, s.jwks)
	s.mux.HandleFunc("GET "+s.prefix+LivePath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return s, nil
}

// ServeHTTP routes a request to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Metadata returns the issuer's RFC 8414 metadata.
func (s *Server) Metadata() *discovery.Metadata {
	return &discovery.Metadata{
		Issuer:  s.issuer,
		JWKSURI: strings.TrimSuffix(s.issuer, "/") + JWKSPath,
	}
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	s.writeJSON(w, r, s.Metadata())
}

// jwks serves the public keys. Verifiers may cache them for the ring's
// JWKSMaxAge: a new key is published for longer than that before it signs.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	maxAge := int(s.keys.JWKSMaxAge().Seconds())
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	w.Header().Set("Content-Type", "application/jwk-set+json")
	s.writeJSON(w, r, s.keys.PublicSet())
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.ErrorContext(r.Context(), "encoding response", "path", r.URL.Path, "err", err)
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Write(append(body, '\n'))
}

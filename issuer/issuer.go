// Package issuer is waxseal's authorization server: the only process that
// holds signing keys and account data. Users log in here, get a short-lived
// access token and a rotating refresh token, and come back here to refresh,
// log out and revoke. It publishes what verifiers need to work alone: RFC
// 8414 metadata, the JWKS, and the revocation feed.
//
// A Server keeps no state of its own that another instance lacks: everything
// lives in the Store, so any number of instances may serve behind a load
// balancer, and one dying loses nothing it acknowledged.
package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/cors"
	"github.com/waxseal/waxseal/denylist"
	"github.com/waxseal/waxseal/discovery"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// Paths of the endpoints, relative to the issuer URL's path.
const (
	TokenPath       = "/token"
	RevokePath      = "/revoke"
	IntrospectPath  = "/introspect"
	JWKSPath        = "/jwks.json"
	RevocationsPath = "/v1/revocations"
	LogoutPath      = "/v1/logout"
	LogoutAllPath   = "/v1/logout-all"
	UserinfoPath    = "/v1/userinfo"
	SessionsPath    = "/v1/sessions"
	PasswordPath    = "/v1/password"
	SignupPath      = "/v1/signup"
	AdminPath       = "/v1/admin"
	LivePath        = "/livez"
	OpenAPIPath     = "/openapi.yaml"
	ReadyPath       = "/readyz"
	MetricsPath     = "/metrics"
)

// Defaults of Config.
const (
	DefaultAccessTTL       = 10 * time.Minute
	DefaultRefreshGrace    = 30 * time.Second
	DefaultIdleTimeout     = 7 * 24 * time.Hour
	DefaultSessionLifetime = 30 * 24 * time.Hour
	DefaultClientID        = "default"
)

// Config describes an issuer. Zero optional fields take the defaults above.
type Config struct {
	// Issuer is the public base URL: every token's "iss" and the base of
	// every endpoint in the metadata. Required.
	Issuer string
	// Store holds accounts, sessions and the revocation log. Required.
	Store waxseal.Store
	// Keys holds the signing keys. Required.
	Keys *keyring.Ring
	// Hasher hashes and checks passwords. Required.
	Hasher *password.Hasher

	// Audiences go into every access token's "aud", with the issuer itself
	// (so the token works at the issuer's own endpoints, like logout).
	Audiences []string
	// Scopes is the scope policy: which API scopes the issuer grants to
	// users, and to which roles. A user gets a scope only if a rule grants
	// it to one of the user's roles (or to every user) and the client's
	// registration allows it; asking is never enough, and a scope no rule
	// names is unknown (invalid_scope). The OpenID Connect scopes are known
	// without a rule and granted to every user; which of them a client gets
	// is its registration's call. A registered client's client_credentials
	// tokens carry the scopes of its registration. Empty: no API scope for
	// any user.
	Scopes []ScopeRule
	// Signup enables POST /v1/signup: anyone may create an account.
	Signup bool
	// Limits are the brute-force limits; zero means in-memory ones.
	Limits Limits
	// Branding customises the hosted login and logout pages.
	Branding Branding
	// InsecureCookies drops the __Host- prefix and the Secure flag from
	// the issuer session and login cookies, so that the hosted login works
	// over plain http on a developer's machine. Never in production: the
	// cookie then travels in the clear and any subdomain can overwrite it.
	InsecureCookies bool
	// FeedMaxStreams caps the revocation feed's open SSE streams, and
	// FeedMaxStreamsPerClient those from one client address (behind
	// trusted proxies, the forwarded one); beyond either the feed answers
	// 503 with Retry-After, and a follower backs off and comes back. Zero
	// means DefaultFeedMaxStreams and DefaultFeedMaxStreamsPerClient.
	FeedMaxStreams, FeedMaxStreamsPerClient int

	// AllowedOrigins are the browser origins (scheme://host[:port], each
	// exact, or the single entry "*") that may call the issuer from other
	// origins; the issuer answers CORS for them. None: no CORS headers.
	AllowedOrigins []string
	// RefreshCookie turns on cookie mode: a public client's refresh token
	// is set in an HttpOnly, Secure, SameSite=Strict __Host- cookie and
	// never written in JSON, and the refresh grant and logout accept the
	// cookie only with CookieRequestHeader from one of AllowedOrigins
	// (which must be listed, not "*"). For an app and an issuer on one
	// site. Confidential clients still get their refresh token in JSON.
	RefreshCookie bool

	AccessTTL       time.Duration // lifetime of access tokens
	RefreshGrace    time.Duration // how long a rotated refresh token still yields its successor
	IdleTimeout     time.Duration // a session unused this long ends
	SessionLifetime time.Duration // a session ends this long after login, however used

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives request errors and the audit log. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Registerer receives the issuer's metrics. Nil means a new registry.
	// Server.Metrics serves it.
	Registerer *prometheus.Registry
}

// Server is an issuer.
type Server struct {
	cfg      Config
	prefix   string // the issuer URL's path, without a trailing slash
	base     string // the issuer URL without a trailing slash
	store    waxseal.Store
	keys     *keyring.Ring
	hasher   *password.Hasher
	acct     *Accounts
	log      *slog.Logger
	now      func() time.Time
	audience []string
	scopes   scopePolicy
	denied   *denylist.List
	verifier *token.Verifier
	feed     *broadcaster
	tail     *tail        // the newest log entries, for the feed streams
	streams  *streamSlots // caps on open feed streams
	catchUp  sync.Mutex   // serializes CatchUp, the one reader of the log
	// keysChanged holds a pending key reload; see followKeys.
	keysChanged chan struct{}
	metrics     *metrics
	pages       *pages
	mux         *http.ServeMux
	cors        *cors.CORS   // nil without AllowedOrigins
	handler     http.Handler // mux, behind cors when set
}

// New returns a Server for cfg. Call Run to start its background work.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Hasher == nil {
		return nil, errors.New("issuer: Config.Store, Keys and Hasher are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("issuer: %q is not an absolute URL without query or fragment", cfg.Issuer)
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.AccessTTL, DefaultAccessTTL},
		{&cfg.RefreshGrace, DefaultRefreshGrace},
		{&cfg.IdleTimeout, DefaultIdleTimeout},
		{&cfg.SessionLifetime, DefaultSessionLifetime},
	} {
		if *d.v < 0 {
			return nil, errors.New("issuer: negative duration in Config")
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	cfg.Limits.fill()
	if cfg.FeedMaxStreams < 0 || cfg.FeedMaxStreamsPerClient < 0 {
		return nil, errors.New("issuer: negative feed stream limit in Config")
	}
	if cfg.FeedMaxStreams == 0 {
		cfg.FeedMaxStreams = DefaultFeedMaxStreams
	}
	if cfg.FeedMaxStreamsPerClient == 0 {
		cfg.FeedMaxStreamsPerClient = DefaultFeedMaxStreamsPerClient
	}
	s := &Server{
		cfg:         cfg,
		prefix:      strings.TrimSuffix(u.Path, "/"),
		base:        strings.TrimSuffix(cfg.Issuer, "/"),
		store:       cfg.Store,
		keys:        cfg.Keys,
		hasher:      cfg.Hasher,
		log:         cfg.Logger,
		now:         cfg.Now,
		denied:      denylist.NewAt(cfg.Now),
		feed:        newBroadcaster(),
		keysChanged: make(chan struct{}, 1),
		tail:        newTail(),
		streams:     &streamSlots{maxTotal: cfg.FeedMaxStreams, maxPerClient: cfg.FeedMaxStreamsPerClient},
		acct:        &Accounts{Store: cfg.Store, Hasher: cfg.Hasher, AccessTTL: cfg.AccessTTL, Now: cfg.Now, Logger: cfg.Logger},
		mux:         http.NewServeMux(),
	}
	s.audience = append([]string{cfg.Issuer}, cfg.Audiences...)
	if s.scopes, err = newScopePolicy(cfg.Scopes); err != nil {
		return nil, err
	}
	// The issuer checks its own tokens (logout, userinfo) with its own
	// keys and the same denylist its guards keep.
	s.verifier, err = token.NewVerifier(cfg.Keys, token.Config{
		Issuer: cfg.Issuer, Audience: cfg.Issuer, Denylist: s.denied, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	if s.pages, err = newPages(cfg.Branding, s.prefix); err != nil {
		return nil, err
	}
	s.routes()
	s.handler = s.mux
	if s.cors, err = newCORS(cfg); err != nil {
		return nil, err
	}
	if s.cors != nil {
		s.handler = s.cors.Handler(s.mux)
	}
	return s, nil
}

// ServeHTTP routes a request to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Metadata returns the issuer's RFC 8414 metadata.
func (s *Server) Metadata() *discovery.Metadata {
	return &discovery.Metadata{
		Issuer:                                    s.cfg.Issuer,
		TokenEndpoint:                             s.base + TokenPath,
		JWKSURI:                                   s.base + JWKSPath,
		RevocationEndpoint:                        s.base + RevokePath,
		UserinfoEndpoint:                          s.base + OIDCUserinfo,
		RevocationFeedEndpoint:                    s.base + RevocationsPath,
		IntrospectionEndpoint:                     s.base + IntrospectPath,
		GrantTypesSupported:                       []string{GrantAuthorizationCode, GrantRefreshToken, GrantPassword, GrantClientCredentials},
		ResponseTypesSupported:                    []string{"code"},
		ResponseModesSupported:                    []string{"query"},
		TokenEndpointAuthMethodsSupported:         []string{"none", "client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethodsSupported:    []string{"none"},
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		ScopesSupported:                           append(slices.Clone(OIDCScopes), s.scopes.names()...),
		CodeChallengeMethodsSupported:             []string{"S256"},
		AuthorizationEndpoint:                     s.base + AuthorizePath,
		EndSessionEndpoint:                        s.base + EndSessionPath,
		SubjectTypesSupported:                     []string{"public"},
		IDTokenSigningAlgValuesSupported:          s.idTokenAlgs(),
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp",
			"preferred_username"},
		PromptValuesSupported:                      []string{"none", "login", "consent", "select_account"},
		AuthorizationResponseIssParameterSupported: true,
	}
}

// idTokenAlgs are the algorithms ID tokens can be signed with: those the
// key ring keeps a key of, but HS256, whose key is no client's to check.
func (s *Server) idTokenAlgs() []string {
	var out []string
	for _, a := range s.keys.Algorithms() {
		if !a.Symmetric() {
			out = append(out, string(a))
		}
	}
	return out
}

// Start catches up with the revocation log, so that the issuer never
// accepts a token its guards reject, then does Run's work in the
// background. stop ends the feed streams and the background work, and
// waits for it; call it once the HTTP server has stopped.
func (s *Server) Start(ctx context.Context) (stop func(), err error) {
	// Whoever writes a revocation (the command line, another instance)
	// keeps it as long as this server's tokens live.
	if err := s.store.NoteTokenLifetime(ctx, s.cfg.AccessTTL); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if err := s.CatchUp(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	return func() { s.StopStreams(); cancel(); <-done }, nil
}

// Run does the issuer's background work until ctx ends: it follows the
// revocation log into the issuer's own denylist and wakes feed streams, keeps
// the signing keys moving through their lifecycle, and prunes expired
// revocations. It returns ctx's error. Start runs it after a catch-up.
func (s *Server) Run(ctx context.Context) error {
	go s.followLog(ctx)
	go s.followKeys(ctx)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := s.keys.Maintain(ctx); err != nil {
				s.log.ErrorContext(ctx, "key maintenance failed", "err", err)
			}
			now := s.now()
			if n, err := s.store.PruneRevocations(ctx, now); err != nil {
				s.log.ErrorContext(ctx, "pruning revocations failed", "err", err)
			} else if n > 0 {
				s.log.InfoContext(ctx, "pruned revocations", "count", n)
			}
			s.denied.Prune(now)
			// A used code is kept for a while after it expires, so that
			// a late second use still ends what the first started.
			if _, err := s.store.PruneAuthCodes(ctx, now.Add(-time.Hour)); err != nil {
				s.log.ErrorContext(ctx, "pruning authorization codes failed", "err", err)
			}
		}
	}
}

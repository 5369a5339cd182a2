package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waxseal/waxseal/cors"
	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

func runServe(ctx context.Context, args []string, io IO) error {
	fs := newFlags("serve", "", io)
	lf := addListenFlags(fs, "127.0.0.1:8080")
	issuerURL := fs.String("issuer", "", "public base URL of the issuer (default: from --listen)")
	var audiences, scopes, origins listFlag
	fs.Var(&audiences, "audience", "an audience for access tokens, besides the issuer (repeatable)")
	fs.Var(&scopes, "scope", "a scope the issuer grants users: SCOPE for every user, SCOPE=ROLE for users with that role (repeatable; none given: no API scopes)")
	fs.Var(&origins, "allow-origin", allowOriginUsage)
	grace := &durationFlag{d: issuer.DefaultRefreshGrace}
	idle := &durationFlag{d: issuer.DefaultIdleTimeout}
	lifetime := &durationFlag{d: issuer.DefaultSessionLifetime}
	fs.Var(grace, "refresh-grace", "how long a rotated refresh token still yields the same successor")
	fs.Var(idle, "idle-timeout", "a session unused this long ends")
	fs.Var(lifetime, "session-lifetime", "a session ends this long after login")
	maxHashes := fs.Int("max-concurrent-hashes", 0, "password hashes computed at once; more logins wait briefly, then get 503 (default: one per CPU)")
	signup := fs.Bool("signup", false, "let anyone create an account with POST /v1/signup")
	refreshCookie := fs.Bool("refresh-cookie", false, "cookie mode: give browser apps on the --allow-origin list their refresh token in an HttpOnly __Host- cookie, never in JSON (needs HTTPS, and the apps on the issuer's site)")
	var brand issuer.Branding
	fs.StringVar(&brand.ProductName, "product-name", "waxseal", "the product name on the hosted login page")
	fs.StringVar(&brand.LogoURL, "logo-url", "", "an https URL (or a path on the issuer) of a logo for the login page")
	fs.StringVar(&brand.AccentColor, "accent-color", "#1d4ed8", "the login page's accent colour, #rgb or #rrggbb")
	insecureCookies := fs.Bool("insecure-cookies", false, "issuer session cookies without __Host- and Secure, for the login page over plain http on a developer's machine; never in production")
	redisURL := fs.String("redis", "", "keep brute-force limits in this Redis server (redis://host:port/db), so they hold across instances; default: in memory")
	metricsListen := fs.String("metrics-listen", defaultMetricsListen, "address of the separate plain-HTTP listener for GET /metrics (Prometheus); \"off\" for none")
	lim := addLimitFlags(fs)
	var proxies listFlag
	fs.Var(&proxies, "trusted-proxy", "an address or CIDR of a proxy whose X-Forwarded-For and Forwarded headers name the client (repeatable)")
	df := addDBFlags(fs, needKeys)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	useTLS, err := lf.check()
	if err != nil {
		return err
	}
	if _, err := newCORS(origins.vals); err != nil { // the issuer answers CORS itself; this checks the flag early
		return err
	}
	var scopeRules []issuer.ScopeRule
	for _, v := range scopes.vals {
		rule, err := issuer.ParseScopeRule(v)
		if err != nil {
			return fmt.Errorf("--scope: %w", err)
		}
		scopeRules = append(scopeRules, rule)
	}
	limits, closeLimits, err := lim.open(ctx, *redisURL, proxies.vals)
	if err != nil {
		return err
	}
	defer closeLimits()

	log := slog.New(slog.NewJSONHandler(io.Err, nil))
	db, err := df.open(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	ring, err := df.ring(ctx, db, io)
	if err != nil {
		return err
	}
	hasher, err := password.NewHasher(password.HasherConfig{MaxConcurrent: *maxHashes})
	if err != nil {
		return err
	}
	// Listen first, so that the default issuer URL names the port bound,
	// even for --listen 127.0.0.1:0.
	ln, err := net.Listen("tcp", *lf.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *issuerURL == "" {
		scheme := "http"
		if useTLS {
			scheme = "https"
		}
		host, _, _ := net.SplitHostPort(*lf.listen)
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		*issuerURL = scheme + "://" + net.JoinHostPort(host, port)
	}
	reg := prometheus.NewRegistry()
	if err := registerPoolMetrics(reg, db); err != nil {
		return err
	}
	srv, err := issuer.New(issuer.Config{
		Issuer: *issuerURL, Store: db, Keys: ring, Hasher: hasher,
		Audiences: audiences.vals, Scopes: scopeRules,
		AccessTTL: df.accessTTL.d, RefreshGrace: grace.d, IdleTimeout: idle.d, SessionLifetime: lifetime.d,
		Signup: *signup, Limits: limits, Logger: log, Registerer: reg,
		AllowedOrigins: origins.vals, RefreshCookie: *refreshCookie, Branding: brand, InsecureCookies: *insecureCookies,
	})
	if err != nil {
		return err
	}
	stop, err := srv.Start(ctx)
	if err != nil {
		return err
	}
	defer stop()

	hs := newHTTPServer(srv, log)
	hs.ReadTimeout = 30 * time.Second
	hs.WriteTimeout = 30 * time.Second // feed streams lift it for themselves
	hs.RegisterOnShutdown(srv.StopStreams)

	log.Info("waxseal issuer listening", "addr", ln.Addr().String(), "issuer", *issuerURL, "database", dburl.Redact(*df.database), "tls", useTLS)
	stopMetrics, err := serveMetrics(fs, *metricsListen, srv.Metrics(), log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	return lf.serve(ctx, hs, ln, log)
}

// defaultMetricsListen is loopback: metrics tell whoever reads them how an
// attack goes, so they are not served where the issuer is public.
const defaultMetricsListen = "127.0.0.1:9464"

// serveMetrics serves h on addr, apart from the public listener. When the
// operator did not choose the address and the default one is taken (a
// second issuer on the host), it logs that and serves no metrics rather
// than refusing to start.
func serveMetrics(fs *flag.FlagSet, addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	if addr == "off" || addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if flagGiven(fs, "metrics-listen") {
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
		log.Warn("no metrics: the default metrics address is taken; choose one with --metrics-listen", "addr", addr, "err", err)
		return func() {}, nil
	}
	hs := newHTTPServer(h, log)
	hs.ReadTimeout, hs.WriteTimeout = 10*time.Second, 30*time.Second
	go hs.Serve(ln)
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}

// flagGiven reports whether the flag name was set on the command line or
// from the environment.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// listenFlags are the flags of a command that serves HTTP: where, and
// whether with TLS.
type listenFlags struct {
	listen, tlsCert, tlsKey *string
	insecureHTTP            *bool
}

func addListenFlags(fs *flag.FlagSet, addr string) *listenFlags {
	return &listenFlags{
		listen:       fs.String("listen", addr, "address to listen on"),
		tlsCert:      fs.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS"),
		tlsKey:       fs.String("tls-key", "", "TLS private key file (PEM)"),
		insecureHTTP: fs.Bool("insecure-http", false, "serve plain HTTP on an address that is not loopback, for a TLS-terminating proxy in front"),
	}
}

// check reports whether to serve HTTPS. Plain HTTP is refused off loopback
// unless --insecure-http says a TLS-terminating proxy is in front: bearer
// tokens must not cross a network in the clear.
func (lf *listenFlags) check() (useTLS bool, err error) {
	useTLS = *lf.tlsCert != "" || *lf.tlsKey != ""
	if useTLS && (*lf.tlsCert == "" || *lf.tlsKey == "") {
		return false, errors.New("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(*lf.listen)
	if err != nil {
		return false, fmt.Errorf("--listen: %w", err)
	}
	if !useTLS && !*lf.insecureHTTP && !isLoopback(host) {
		return false, fmt.Errorf("refusing plain HTTP on %s: give --tls-cert and --tls-key, or --insecure-http behind a TLS-terminating proxy", *lf.listen)
	}
	return useTLS, nil
}

// serve serves hs on ln until ctx ends, then drains requests for up to
// 30 s.
func (lf *listenFlags) serve(ctx context.Context, hs *http.Server, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() {
		if *lf.tlsCert != "" {
			errc <- hs.ServeTLS(ln, *lf.tlsCert, *lf.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return hs.Shutdown(shutdownCtx)
}

// newHTTPServer returns a server for h with the limits every waxseal
// server keeps: headers bounded in size and in time, idle connections
// closed.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

const allowOriginUsage = "a browser origin (scheme://host[:port]) allowed to call from another site, or * for any (repeatable; none given: no CORS)"

// newCORS returns the CORS policy for the --allow-origin values, or nil
// when there are none.
func newCORS(origins []string) (*cors.CORS, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	c, err := cors.New(cors.Config{AllowedOrigins: origins})
	if err != nil {
		return nil, fmt.Errorf("--allow-origin: %w", err)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

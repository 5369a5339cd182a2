package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

func runServe(ctx context.Context, args []string, io IO) error {
	fs := newFlags("serve", "", io)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	issuerURL := fs.String("issuer", "", "public base URL of the issuer (default: from --listen)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	insecureHTTP := fs.Bool("insecure-http", false, "serve plain HTTP on an address that is not loopback, for a TLS-terminating proxy in front")
	var audiences, scopes listFlag
	fs.Var(&audiences, "audience", "an audience for access tokens, besides the issuer (repeatable)")
	fs.Var(&scopes, "scope", "a scope clients may ask for (repeatable; none given: any)")
	grace := &durationFlag{d: issuer.DefaultRefreshGrace}
	idle := &durationFlag{d: issuer.DefaultIdleTimeout}
	lifetime := &durationFlag{d: issuer.DefaultSessionLifetime}
	fs.Var(grace, "refresh-grace", "how long a rotated refresh token still yields the same successor")
	fs.Var(idle, "idle-timeout", "a session unused this long ends")
	fs.Var(lifetime, "session-lifetime", "a session ends this long after login")
	maxHashes := fs.Int("max-concurrent-hashes", 0, "password hashes computed at once; more logins wait briefly, then get 503 (default: one per CPU)")
	df := addDBFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	useTLS := *tlsCert != "" || *tlsKey != ""
	if useTLS && (*tlsCert == "" || *tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if !useTLS && !*insecureHTTP && !isLoopback(host) {
		return fmt.Errorf("refusing plain HTTP on %s: give --tls-cert and --tls-key, or --insecure-http behind a TLS-terminating proxy", *listen)
	}
	if *issuerURL == "" {
		scheme := "http"
		if useTLS {
			scheme = "https"
		}
		*issuerURL = scheme + "://" + *listen
	}

	log := slog.New(slog.NewJSONHandler(io.Err, nil))
	db, err := df.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ring, err := df.ring(ctx, db, true, io)
	if err != nil {
		return err
	}
	hasher, err := password.NewHasher(password.HasherConfig{MaxConcurrent: *maxHashes})
	if err != nil {
		return err
	}
	srv, err := issuer.New(issuer.Config{
		Issuer: *issuerURL, Store: db, Keys: ring, Hasher: hasher,
		Audiences: audiences.vals, Scopes: scopes.vals,
		AccessTTL: df.accessTTL.d, RefreshGrace: grace.d, IdleTimeout: idle.d, SessionLifetime: lifetime.d,
		Logger: log,
	})
	if err != nil {
		return err
	}
	if err := srv.CatchUp(ctx); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // feed streams lift it for themselves
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(srv.StopStreams)
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	go srv.Run(runCtx)

	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("waxseal issuer listening", "addr", ln.Addr().String(), "issuer", *issuerURL, "database", redactURL(*df.database), "tls", useTLS)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	stopRun()
	return err
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL drops what could be a password from a database URL.
func redactURL(u string) string {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '@' {
			return "…" + u[i:]
		}
	}
	return u
}

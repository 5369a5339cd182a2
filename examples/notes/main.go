// Command notes serves a small per-user notes API behind the waxseal guard.
// See README.md for running it next to "waxseal serve".
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/waxseal/waxseal/cors"
	"github.com/waxseal/waxseal/examples/notes/notes"
	"github.com/waxseal/waxseal/guard"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "URL of the waxseal issuer whose tokens are accepted")
	audience := flag.String("audience", "notes", "this service's name in the tokens' \"aud\"")
	database := flag.String("database", "notes.db", "SQLite file of the notes, shared by every instance")
	origin := flag.String("allow-origin", "", "a browser origin (such as https://app.example.com) allowed to call the API; none by default")
	tlsCert := flag.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS")
	tlsKey := flag.String("tls-key", "", "TLS private key file (PEM)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *listen, *origin, *tlsCert, *tlsKey, notes.Config{
		Guard: guard.Config{Issuer: *issuer, Audience: *audience}, Database: *database, Logger: log,
	}); err != nil {
		log.Error("notes", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, listen, origin, tlsCert, tlsKey string, cfg notes.Config) error {
	if (tlsCert == "") != (tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	srv, err := notes.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	var handler http.Handler = srv
	if origin != "" {
		// The browser sends the token in the Authorization header, so a
		// preflight must allow that header; no cookies, no credentials.
		// WWW-Authenticate is exposed, so a page tells an expired token
		// (refresh) from a missing one (sign in).
		c, err := cors.New(cors.Config{AllowedOrigins: []string{origin}})
		if err != nil {
			return err
		}
		handler = c.Handler(srv)
	}
	hs := &http.Server{
		Addr: listen, Handler: handler,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCert != "" {
			errc <- hs.ListenAndServeTLS(tlsCert, tlsKey)
		} else {
			errc <- hs.ListenAndServe()
		}
	}()
	log.Info("notes listening", "addr", listen, "issuer", cfg.Guard.Issuer, "audience", cfg.Guard.Audience)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

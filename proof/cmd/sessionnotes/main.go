// Command sessionnotes serves the notes API with server-side sessions
// (alexedwards/scs) instead of bearer tokens; the proof harness runs it
// beside examples/notes to compare the two designs.
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

	"github.com/waxseal/waxseal/proof/sessionapp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8091", "address to listen on")
	var cfg sessionapp.Config
	flag.StringVar(&cfg.Redis, "redis", "", "redis:// URL of the shared session store; none keeps sessions in memory")
	flag.StringVar(&cfg.Database, "database", "notes.db", "SQLite file of the notes, shared by every instance")
	flag.StringVar(&cfg.Users, "users", "users.json", "JSON file of user names and argon2id hashes")
	flag.StringVar(&cfg.SameSite, "samesite", "lax", "SameSite of the session cookie: lax, strict or none")
	flag.BoolVar(&cfg.CSRF, "csrf", false, "require the session's anti-CSRF token on state-changing requests")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", 30*time.Minute, "end sessions idle this long (0: never)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, cfg); err != nil {
		log.Error("sessionnotes", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen string, cfg sessionapp.Config) error {
	srv, err := sessionapp.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	hs := &http.Server{Addr: listen, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

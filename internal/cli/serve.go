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
)

// maintainEvery is how often the server moves keys through their lifecycle.
// It must be well under the ring's publish lead minus its JWKS max-age.
const maintainEvery = time.Minute

func runServe(ctx context.Context, args []string, io IO) error {
	fs := newFlags("serve", "", io)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	issuerURL := fs.String("issuer", "", "public base URL of the issuer (default: from --listen)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	insecureHTTP := fs.Bool("insecure-http", false, "serve plain HTTP on an address that is not loopback, for a TLS-terminating proxy in front")
	kf := addKeyFlags(fs)
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
	ring, err := kf.open(ctx, true, io)
	if err != nil {
		return err
	}
	srv, err := issuer.New(issuer.Config{Issuer: *issuerURL, Keys: ring, Logger: log})
	if err != nil {
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
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("waxseal issuer listening", "addr", ln.Addr().String(), "issuer", *issuerURL, "tls", useTLS)

	tick := time.NewTicker(maintainEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-tick.C:
			if err := ring.Maintain(ctx); err != nil {
				log.Error("key maintenance failed", "err", err)
			}
		case <-ctx.Done():
			log.Info("shutting down: draining requests")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return hs.Shutdown(shutdownCtx)
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Command web serves the notes demo page: a single-page app on its own
// origin that signs in at a waxseal issuer (another origin) with
// @waxseal/client and calls the notes API (a third origin) through CORS.
// See README.md; demo.sh runs all three.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

//go:embed static
var static embed.FS

// config is what the page reads from /config.json.
type config struct {
	Issuer   string `json:"issuer"`
	API      string `json:"api"`
	ClientID string `json:"clientId"`
	Mode     string `json:"mode"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8000", "address to listen on")
	issuer := flag.String("issuer", "http://localhost:8080", "the waxseal issuer's URL")
	api := flag.String("api", "http://localhost:8081", "the notes API's URL")
	clientID := flag.String("client-id", "notes-web", "this app's client ID at the issuer")
	mode := flag.String("mode", "header", `where the refresh token lives: "header" (page memory) or "cookie" (the issuer runs with --refresh-cookie)`)
	clientDir := flag.String("client-dir", "clients/js/dist", "the built @waxseal/client (npm run build in clients/js)")
	tlsCert := flag.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS")
	tlsKey := flag.String("tls-key", "", "TLS private key file (PEM)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := handler(config{Issuer: *issuer, API: *api, ClientID: *clientID, Mode: *mode}, *clientDir)
	if err == nil {
		err = serve(ctx, log, *listen, *tlsCert, *tlsKey, h)
	}
	if err != nil {
		log.Error("web", "err", err)
		os.Exit(1)
	}
}

// handler serves the page, the client library under /lib/ and the config,
// every answer with a strict Content-Security-Policy: scripts and styles
// only from this origin, no inline code, connections only to the issuer and
// the API, no framing.
func handler(cfg config, clientDir string) (http.Handler, error) {
	if cfg.Mode != "header" && cfg.Mode != "cookie" {
		return nil, errors.New(`--mode must be "header" or "cookie"`)
	}
	var origins []string
	for _, u := range []string{cfg.Issuer, cfg.API} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, errors.New("--issuer and --api must be http or https URLs")
		}
		origins = append(origins, p.Scheme+"://"+p.Host)
	}
	if _, err := os.Stat(filepath.Join(clientDir, "index.js")); err != nil {
		return nil, errors.New("no built client in " + clientDir + ": run npm ci && npm run build in clients/js")
	}
	csp := strings.Join([]string{
		"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
		"connect-src 'self' " + strings.Join(origins, " "),
		"base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
	}, "; ")
	body, _ := json.Marshal(cfg)
	site, _ := fs.Sub(static, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /lib/", http.StripPrefix("/lib/", http.FileServer(http.Dir(clientDir))))
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	mux.Handle("GET /", http.FileServerFS(site))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		mux.ServeHTTP(w, r)
	}), nil
}

func serve(ctx context.Context, log *slog.Logger, listen, cert, key string, h http.Handler) error {
	if (cert == "") != (key == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	hs := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- hs.ListenAndServeTLS(cert, key)
		} else {
			errc <- hs.ListenAndServe()
		}
	}()
	log.Info("notes web listening", "addr", listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

package proxy_test

import (
	"context"
	"log"
	"net/http"
	"net/url"
	"time"

	"github.com/waxseal/waxseal/cors"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/proxy"
)

// A service on 127.0.0.1:9000 that reads X-Waxseal-Subject and
// X-Waxseal-Roles, behind a proxy that lets only admins reach /admin/ and
// lets the single-page application at app.example.com call it.
func Example() {
	ctx := context.Background()
	g, err := guard.New(ctx, guard.Config{Issuer: "https://auth.example.com", Audience: "notes"})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	c, err := cors.New(cors.Config{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	h, err := proxy.New(proxy.Config{
		Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:9000"},
		Guard:    g,
		Rules:    []proxy.Rule{{PathPrefix: "/admin/", Role: "admin"}},
		CORS:     c,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: ":8443", Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	log.Fatal(srv.ListenAndServeTLS("cert.pem", "key.pem"))
}

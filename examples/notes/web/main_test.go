package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testHandler(t *testing.T) http.Handler {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte("export {};"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := handler(config{Issuer: "https://auth.example.com", API: "https://api.example.com:8443/v1", ClientID: "notes-web", Mode: "header"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHandlerHeaders: every answer carries the strict CSP (no inline
// script, connections only to the issuer and the API, no framing).
func TestHandlerHeaders(t *testing.T) {
	h := testHandler(t)
	for _, path := range []string{"/", "/app.js", "/lib/index.js", "/config.json", "/missing"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		csp := w.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
			"connect-src 'self' https://auth.example.com https://api.example.com:8443", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe sources: %q", path, csp)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, w.Header())
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/config.json", nil))
	if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, `"mode":"header"`) || !strings.Contains(body, `"issuer":"https://auth.example.com"`) {
		t.Errorf("config: %d %s", w.Code, body)
	}
}

// TestPageHasNoInlineCode: the page itself obeys its CSP.
func TestPageHasNoInlineCode(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"<script>", "onclick=", "onload=", "style=\"", "<style", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
}

func TestHandlerRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]config{
		"mode":   {Issuer: "https://a", API: "https://b", Mode: "both"},
		"issuer": {Issuer: "javascript:alert(1)", API: "https://b", Mode: "header"},
	} {
		if _, err := handler(cfg, dir); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := handler(config{Issuer: "https://a", API: "https://b", Mode: "header"}, dir); err == nil {
		t.Error("accepted a client directory without the built client")
	}
}

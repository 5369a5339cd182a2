package cors_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal/cors"
)

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  cors.Config
		want string
	}{
		{"no origins", cors.Config{}, "no allowed origins"},
		{"star with credentials", cors.Config{AllowedOrigins: []string{"*"}, AllowCredentials: true}, "AllowCredentials"},
		{"star among others", cors.Config{AllowedOrigins: []string{"*", "https://app.example.com"}}, "only"},
		{"trailing slash", origins("https://app.example.com/"), "no path"},
		{"path", origins("https://app.example.com/app"), "no path"},
		{"query", origins("https://app.example.com?x=1"), "no path"},
		{"empty query", origins("https://app.example.com?"), "no path"},
		{"fragment", origins("https://app.example.com#top"), "no path"},
		{"wildcard subdomain", origins("https://*.example.com"), "wildcard"},
		{"wildcard port", origins("https://app.example.com:*"), "wildcard"},
		{"null", origins("null"), "null"},
		{"no scheme", origins("app.example.com"), "scheme"},
		{"other scheme", origins("ftp://app.example.com"), "scheme"},
		{"user info", origins("https://alice@app.example.com"), "user"},
		{"no host", origins("https://"), "host"},
		{"no host but port", origins("https://:443"), "host"},
		{"unicode host", origins("https://bücher.example"), "host"},
		{"port zero", origins("https://app.example.com:0"), "port"},
		{"port too big", origins("https://app.example.com:65536"), "port"},
		{"port with leading zero", origins("https://app.example.com:0443"), "port"},
		{"bad method", cors.Config{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GE T"}}, "method"},
		{"no methods", cors.Config{AllowedOrigins: []string{"*"}, AllowedMethods: []string{}}, "no allowed methods"},
		{"wildcard method", cors.Config{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"*"}}, "method"},
		{"bad header", cors.Config{AllowedOrigins: []string{"*"}, AllowedHeaders: []string{"X-A: b"}}, "header"},
		{"wildcard header", cors.Config{AllowedOrigins: []string{"*"}, AllowedHeaders: []string{"*"}}, "header"},
		{"bad exposed header", cors.Config{AllowedOrigins: []string{"*"}, ExposedHeaders: []string{""}}, "exposed header"},
		{"negative max age", cors.Config{AllowedOrigins: []string{"*"}, MaxAge: -time.Second}, "MaxAge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cors.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cors: ") {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func origins(o ...string) cors.Config { return cors.Config{AllowedOrigins: o} }

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com":        "https://app.example.com",
		"HTTPS://App.Example.COM":        "https://app.example.com",
		"https://app.example.com:443":    "https://app.example.com",
		"http://app.example.com:80":      "http://app.example.com",
		"https://app.example.com:80":     "https://app.example.com:80",
		"http://app.example.com:443":     "http://app.example.com:443",
		"http://localhost:3000":          "http://localhost:3000",
		"http://127.0.0.1:8080":          "http://127.0.0.1:8080",
		"http://[::1]:8080":              "http://[::1]:8080",
		"https://[2001:DB8::1]":          "https://[2001:db8::1]",
		"https://xn--bcher-kva.example":  "https://xn--bcher-kva.example",
		"https://app.example.com.:8443":  "https://app.example.com.:8443",
		"https://app-1.eu.example.co.uk": "https://app-1.eu.example.co.uk",
	} {
		got, err := cors.ParseOrigin(in)
		if err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// answer is what a request through a CORS handler came to.
type answer struct {
	status  int
	reached bool // the wrapped handler ran
	header  http.Header
}

func serve(c *cors.CORS, r *http.Request) answer {
	var a answer
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.reached = true
		w.WriteHeader(http.StatusTeapot)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	a.status, a.header = rec.Code, rec.Result().Header
	return a
}

// request builds a request; header holds name/value pairs, and a name may
// repeat.
func request(method string, header ...string) *http.Request {
	r := httptest.NewRequest(method, "https://api.example.com/notes", nil)
	for i := 0; i < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func mustNew(t *testing.T, cfg cors.Config) *cors.CORS {
	t.Helper()
	c, err := cors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// corsHeaders are every response header this package may set but Vary.
var corsHeaders = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Expose-Headers",
}

func noCORSHeaders(t *testing.T, a answer) {
	t.Helper()
	for _, h := range corsHeaders {
		if v, ok := a.header[h]; ok {
			t.Errorf("%s: %q, want none", h, v)
		}
	}
}

func vary(a answer) []string {
	var names []string
	for _, v := range a.header.Values("Vary") {
		for n := range strings.SplitSeq(v, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	return names
}

func varies(t *testing.T, a answer, names ...string) {
	t.Helper()
	for _, n := range names {
		if !slices.Contains(vary(a), n) {
			t.Errorf("Vary %q lacks %s", vary(a), n)
		}
	}
}

const app = "https://app.example.com"

// TestNearMisses is the list of origins that look like an allowed one and
// must get nothing: suffix and prefix tricks, another scheme or port, and
// forms no browser sends.
func TestNearMisses(t *testing.T) {
	c := mustNew(t, origins(app, "http://localhost:3000"))
	for _, origin := range []string{
		"https://app.example.com.evil.net",
		"https://evilapp.example.com",
		"https://evil-app.example.com",
		"https://sub.app.example.com",
		"https://example.com",
		"https://app.example.co",
		"https://app.example.com.",
		"http://app.example.com",
		"wss://app.example.com",
		"https://app.example.com:8443",
		"https://app.example.com:443",
		"https://APP.example.com",
		"https://app.example.com/",
		"https://app.example.com/evil",
		"https://app.example.com@evil.net",
		" https://app.example.com",
		"https://app.example.com ",
		"https://app.example.com\x00",
		"null",
		"http://localhost:3001",
		"http://localhost",
		"https://localhost:3000",
		"http://127.0.0.1:3000",
		"*",
	} {
		t.Run(origin, func(t *testing.T) {
			a := serve(c, request(http.MethodGet, "Origin", origin))
			if !a.reached {
				t.Fatal("an ordinary request did not reach the handler")
			}
			noCORSHeaders(t, a)
			varies(t, a, "Origin")

			a = serve(c, request(http.MethodOptions, "Origin", origin, "Access-Control-Request-Method", "PUT"))
			if a.reached || a.status != http.StatusForbidden {
				t.Fatalf("preflight: status %d, reached %v; want 403 answered here", a.status, a.reached)
			}
			noCORSHeaders(t, a)
			varies(t, a, "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
		})
	}
}

func TestRequests(t *testing.T) {
	listed := mustNew(t, origins("HTTPS://App.Example.com:443", "http://localhost:3000"))
	withCreds := mustNew(t, cors.Config{AllowedOrigins: []string{app}, AllowCredentials: true, ExposedHeaders: []string{"X-Request-Id"}, MaxAge: 2 * time.Hour})
	public := mustNew(t, origins("*"))
	preflight := func(origin, method, headers string) *http.Request {
		r := request(http.MethodOptions, "Origin", origin, "Access-Control-Request-Method", method)
		if headers != "" {
			r.Header.Set("Access-Control-Request-Headers", headers)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		cors    *cors.CORS
		req     *http.Request
		status  int
		reached bool
		want    map[string]string // response headers; "" means absent
		vary    []string
	}{
		{
			name: "no origin", cors: listed, req: request(http.MethodGet),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": ""}, vary: []string{"Origin"},
		},
		{
			name: "allowed origin", cors: listed, req: request(http.MethodGet, "Origin", app),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Credentials": "", "Access-Control-Allow-Methods": ""},
			vary: []string{"Origin"},
		},
		{
			// A page must read the RFC 6750 challenge to tell an expired
			// token from a missing one.
			name: "allowed origin may read WWW-Authenticate", cors: listed, req: request(http.MethodGet, "Origin", app),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Expose-Headers": "WWW-Authenticate, Retry-After"},
		},
		{
			name: "other origin is exposed nothing", cors: listed, req: request(http.MethodGet, "Origin", "https://evil.example.net"),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Expose-Headers": ""},
		},
		{
			name: "second allowed origin", cors: listed, req: request(http.MethodPost, "Origin", "http://localhost:3000"),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000"}, vary: []string{"Origin"},
		},
		{
			name: "two Origin headers", cors: listed, req: request(http.MethodGet, "Origin", app, "Origin", app),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": ""}, vary: []string{"Origin"},
		},
		{
			name: "OPTIONS without Access-Control-Request-Method is no preflight", cors: listed,
			req:    request(http.MethodOptions, "Origin", app),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Methods": ""}, vary: []string{"Origin"},
		},
		{
			name: "preflight", cors: listed, req: preflight(app, "PUT", "authorization,content-type"),
			status: http.StatusNoContent,
			want: map[string]string{
				"Access-Control-Allow-Origin":      app,
				"Access-Control-Allow-Methods":     "GET, POST, PUT, PATCH, DELETE",
				"Access-Control-Allow-Headers":     "Authorization, Content-Type",
				"Access-Control-Max-Age":           "600",
				"Access-Control-Allow-Credentials": "",
			},
			vary: []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"},
		},
		{
			name: "preflight without headers", cors: listed, req: preflight(app, "DELETE", ""),
			status: http.StatusNoContent,
			want:   map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Headers": "Authorization, Content-Type"},
			vary:   []string{"Origin"},
		},
		{
			name: "preflight headers in any case and spacing", cors: listed, req: preflight(app, "PATCH", " Content-Type ,AUTHORIZATION,"),
			status: http.StatusNoContent,
			want:   map[string]string{"Access-Control-Allow-Origin": app}, vary: []string{"Origin"},
		},
		{
			name: "preflight asks for a header not allowed", cors: listed, req: preflight(app, "GET", "authorization,x-debug"),
			status: http.StatusForbidden,
			want:   map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Headers": "", "Access-Control-Allow-Methods": ""},
			vary:   []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"},
		},
		{
			name: "preflight asks for a cookie header", cors: listed, req: preflight(app, "GET", "cookie"),
			status: http.StatusForbidden, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "preflight asks for a method not allowed", cors: listed, req: preflight(app, "TRACE", ""),
			status: http.StatusForbidden,
			want:   map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""},
			vary:   []string{"Origin", "Access-Control-Request-Method"},
		},
		{
			name: "preflight method in lower case", cors: listed, req: preflight(app, "put", ""),
			status: http.StatusForbidden, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "credentials: exact origin, never a star", cors: withCreds, req: request(http.MethodGet, "Origin", app),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "X-Request-Id"},
			vary: []string{"Origin"},
		},
		{
			name: "credentials preflight", cors: withCreds, req: preflight(app, "POST", "content-type"),
			status: http.StatusNoContent,
			want:   map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "7200"},
		},
		{
			name: "credentials: other origin", cors: withCreds, req: request(http.MethodGet, "Origin", "https://evil.example.net"),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Access-Control-Expose-Headers": ""},
			vary: []string{"Origin"},
		},
		{
			name: "public", cors: public, req: request(http.MethodGet, "Origin", "https://anyone.example.org"),
			status: http.StatusTeapot, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "", "Vary": ""},
		},
		{
			name: "public preflight", cors: public, req: preflight("https://anyone.example.org", "GET", "authorization"),
			status: http.StatusNoContent,
			want:   map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""},
			vary:   []string{"Access-Control-Request-Method", "Access-Control-Request-Headers"},
		},
		{
			name: "public refuses null", cors: public, req: request(http.MethodGet, "Origin", "null"),
			status: http.StatusTeapot, reached: true, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "public null preflight", cors: public, req: preflight("null", "GET", ""),
			status: http.StatusForbidden, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := serve(tc.cors, tc.req)
			if a.status != tc.status || a.reached != tc.reached {
				t.Fatalf("status %d, reached %v; want %d, %v", a.status, a.reached, tc.status, tc.reached)
			}
			for h, want := range tc.want {
				if got := strings.Join(a.header.Values(h), "|"); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			varies(t, a, tc.vary...)
			if a.header.Get("Access-Control-Allow-Credentials") != "" && a.header.Get("Access-Control-Allow-Origin") == "*" {
				t.Error(`"*" sent with credentials`)
			}
		})
	}
}

// TestVaryKeepsNext checks that the handler's own Vary values survive.
func TestVaryKeepsNext(t *testing.T) {
	c := mustNew(t, origins(app))
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(http.MethodGet, "Origin", app))
	if got := rec.Header().Values("Vary"); !slices.Equal(got, []string{"Origin", "Accept-Encoding"}) {
		t.Fatalf("Vary %q", got)
	}
}

func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com", "HTTP://A:80", "http://[::1]:1", "https://a.b/", "null", "*",
		"https://a@b", "https://a:0443", "https://%61", "http://[fe80::1%25eth0]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := cors.ParseOrigin(s)
		if err != nil {
			return
		}
		again, err := cors.ParseOrigin(o)
		if err != nil || again != o {
			t.Fatalf("ParseOrigin(%q) = %q, which parses to %q, %v", s, o, again, err)
		}
		if strings.Count(o, "/") != 2 || strings.ContainsAny(o, "*@?# ") {
			t.Fatalf("ParseOrigin(%q) = %q", s, o)
		}
	})
}

func TestAllows(t *testing.T) {
	listed := mustNew(t, origins("HTTPS://App.Example.com:443"))
	for origin, want := range map[string]bool{
		app: true, "https://app.example.com:443": false, "https://app.example.com.evil.net": false,
		"null": false, "": false, "http://app.example.com": false,
	} {
		if got := listed.Allows(origin); got != want {
			t.Errorf("Allows(%q) = %v, want %v", origin, got, want)
		}
	}
	if mustNew(t, origins("*")).Allows(app) {
		t.Error(`"*" Allows a named origin; it must allow none where a list is needed`)
	}
}

package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

func TestWellKnownURL(t *testing.T) {
	tests := []struct {
		issuer  string
		want    string
		wantErr bool
	}{
		{issuer: "https://as.example", want: "https://as.example/.well-known/oauth-authorization-server"},
		{issuer: "https://as.example/", want: "https://as.example/.well-known/oauth-authorization-server"},
		{issuer: "https://as.example/tenant", want: "https://as.example/.well-known/oauth-authorization-server/tenant"},
		{issuer: "https://as.example/tenant/", want: "https://as.example/.well-known/oauth-authorization-server/tenant"},
		{issuer: "https://as.example:8443/a/b", want: "https://as.example:8443/.well-known/oauth-authorization-server/a/b"},
		{issuer: "https://as.example/a%2Fb", want: "https://as.example/.well-known/oauth-authorization-server/a%2Fb"},
		{issuer: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080/.well-known/oauth-authorization-server"},
		{issuer: "", wantErr: true},
		{issuer: "as.example/tenant", wantErr: true},
		{issuer: "/tenant", wantErr: true},
		{issuer: "https://", wantErr: true},
		{issuer: "https:as.example", wantErr: true},
		{issuer: "ftp://as.example", wantErr: true},
		{issuer: "https://as.example/?x=1", wantErr: true},
		{issuer: "https://as.example/?", wantErr: true},
		{issuer: "https://as.example/#frag", wantErr: true},
		{issuer: "https://as.example/#", wantErr: true},
		{issuer: "https://user:pass@as.example", wantErr: true},
	}
	for _, tt := range tests {
		got, err := WellKnownURL(tt.issuer)
		if (err != nil) != tt.wantErr {
			t.Errorf("WellKnownURL(%q) error = %v, want error: %v", tt.issuer, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("WellKnownURL(%q) = %q, want %q", tt.issuer, got, tt.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url       string
		allowHTTP bool
		ok        bool
	}{
		{url: "https://as.example/jwks", ok: true},
		{url: "https://10.0.0.1/jwks", ok: true},
		{url: "http://127.0.0.1:8080/jwks", ok: true},
		{url: "http://127.1.2.3/jwks", ok: true},
		{url: "http://[::1]:8080/jwks", ok: true},
		{url: "http://localhost/jwks", ok: true},
		{url: "http://LocalHost:9000/jwks", ok: true},
		{url: "http://as.example/jwks", ok: false},
		{url: "http://as.example/jwks", allowHTTP: true, ok: true},
		{url: "http://10.0.0.1/jwks", ok: false},
		{url: "http://128.0.0.1/jwks", ok: false},
		{url: "http://127.0.0.1.nip.io/jwks", ok: false},
		{url: "http://localhost.as.example/jwks", ok: false},
		{url: "http://[::2]/jwks", ok: false},
		{url: "ftp://as.example/jwks", allowHTTP: true, ok: false},
		{url: "/jwks", allowHTTP: true, ok: false},
		{url: "https:///jwks", ok: false},
		{url: "", ok: false},
	}
	for _, tt := range tests {
		err := CheckURL(tt.url, tt.allowHTTP)
		if (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q, %v) = %v, want ok: %v", tt.url, tt.allowHTTP, err, tt.ok)
		}
	}
}

// serveMetadata starts a loopback server answering the well-known URL of
// srv.URL+path with the document made by body, which gets the issuer.
func serveMetadata(t *testing.T, path string, status int, body func(issuer string) string) (issuer string) {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wellKnownPath+path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body(srv.URL + path)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + path
}

func TestFetch(t *testing.T) {
	var want *Metadata
	issuer := serveMetadata(t, "/tenant", http.StatusOK, func(iss string) string {
		want = &Metadata{
			Issuer:                                    iss,
			TokenEndpoint:                             iss + "/token",
			JWKSURI:                                   iss + "/jwks",
			RevocationEndpoint:                        iss + "/revoke",
			IntrospectionEndpoint:                     iss + "/introspect",
			UserinfoEndpoint:                          iss + "/userinfo",
			GrantTypesSupported:                       []string{"client_credentials", "refresh_token"},
			ResponseTypesSupported:                    []string{"code"},
			ScopesSupported:                           []string{"read", "write"},
			TokenEndpointAuthMethodsSupported:         []string{"private_key_jwt"},
			RevocationEndpointAuthMethodsSupported:    []string{"client_secret_basic"},
			IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_post"},
			CodeChallengeMethodsSupported:             []string{"S256"},
			RevocationFeedEndpoint:                    iss + "/revoked",
		}
		b, err := json.Marshal(want)
		if err != nil {
			t.Error(err)
		}
		// A member waxseal does not know is skipped.
		return `{"op_policy_uri":{"nested":[1,2,{"x":null}]},` + string(b[1:])
	})
	got, err := Fetch(context.Background(), nil, issuer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Fetch =\n%+v\nwant\n%+v", got, want)
	}
}

func TestFetchRejects(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   func(iss string) string
	}{
		{
			name:   "issuer mismatch",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"https://other.example","jwks_uri":"` + iss + `/jwks"}`
			},
		},
		{
			name:   "issuer with trailing slash",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `/","jwks_uri":"` + iss + `/jwks"}`
			},
		},
		{
			name:   "issuer in other case",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"ISSUER":"` + iss + `","jwks_uri":"` + iss + `/jwks"}`
			},
		},
		{
			name:   "duplicate issuer",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"https://other.example","issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks"}`
			},
		},
		{
			name:   "duplicate jwks_uri",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks","jwks_uri":"` + iss + `/evil"}`
			},
		},
		{
			name:   "duplicate inside unknown member",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks","x":{"a":1,"a":2}}`
			},
		},
		{
			name:   "no jwks_uri",
			status: http.StatusOK,
			body:   func(iss string) string { return `{"issuer":"` + iss + `"}` },
		},
		{
			name:   "jwks_uri over http to another host",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"http://as.example/jwks"}`
			},
		},
		{
			name:   "jwks_uri not a string",
			status: http.StatusOK,
			body:   func(iss string) string { return `{"issuer":"` + iss + `","jwks_uri":["` + iss + `/jwks"]}` },
		},
		{
			name:   "scopes not strings",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks","scopes_supported":[1]}`
			},
		},
		{
			name:   "trailing data",
			status: http.StatusOK,
			body:   func(iss string) string { return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks"} {}` },
		},
		{
			name:   "not an object",
			status: http.StatusOK,
			body:   func(iss string) string { return `["` + iss + `"]` },
		},
		{
			name:   "oversized body",
			status: http.StatusOK,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks","pad":"` + strings.Repeat("a", maxMetadataSize) + `"}`
			},
		},
		{
			name:   "not found",
			status: http.StatusNotFound,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks"}`
			},
		},
		{
			name:   "server error",
			status: http.StatusInternalServerError,
			body: func(iss string) string {
				return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks"}`
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer := serveMetadata(t, "", tt.status, tt.body)
			if m, err := Fetch(context.Background(), nil, issuer, Options{}); err == nil {
				t.Fatalf("Fetch = %+v, want error", m)
			}
		})
	}
}

// TestFetchSizeLimit checks that a document of exactly the limit is read: the
// limit is an upper bound, not a truncation.
func TestFetchSizeLimit(t *testing.T) {
	issuer := serveMetadata(t, "", http.StatusOK, func(iss string) string {
		doc := `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks","pad":""}`
		return doc[:len(doc)-2] + strings.Repeat("a", maxMetadataSize-len(doc)) + `"}`
	})
	if _, err := Fetch(context.Background(), nil, issuer, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestFetchInsecureAllowHTTP(t *testing.T) {
	body := func(iss string) string {
		return `{"issuer":"` + iss + `","jwks_uri":"http://as.example/jwks"}`
	}
	issuer := serveMetadata(t, "", http.StatusOK, body)
	if _, err := Fetch(context.Background(), nil, issuer, Options{}); err == nil {
		t.Fatal("http jwks_uri on another host accepted without InsecureAllowHTTP")
	}
	m, err := Fetch(context.Background(), nil, issuer, Options{InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.JWKSURI != "http://as.example/jwks" {
		t.Errorf("JWKSURI = %q", m.JWKSURI)
	}
}

// TestFetchRefusesHTTPIssuer checks that an http issuer on another machine is
// refused before any request is made.
func TestFetchRefusesHTTPIssuer(t *testing.T) {
	var dials atomic.Int32
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("no network in this test")
		},
	}}
	if _, err := Fetch(context.Background(), client, "http://as.example", Options{}); err == nil {
		t.Fatal("http issuer on another host accepted")
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d connections attempted", n)
	}
}

func TestFetchHonoursContext(t *testing.T) {
	issuer := serveMetadata(t, "", http.StatusOK, func(iss string) string {
		return `{"issuer":"` + iss + `","jwks_uri":"` + iss + `/jwks"}`
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(ctx, nil, issuer, Options{}); err == nil {
		t.Fatal("Fetch with a cancelled context succeeded")
	}
}

func TestParseEmptyArrayIsAbsent(t *testing.T) {
	m, err := parse([]byte(`{"issuer":"https://as.example","scopes_supported":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.ScopesSupported != nil {
		t.Errorf("ScopesSupported = %#v, want nil", m.ScopesSupported)
	}
}

// FuzzParse checks that parse never panics and that whatever it accepts
// survives a round trip through the issuer's encoding/json form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"issuer":"https://as.example","jwks_uri":"https://as.example/jwks"}`,
		`{"issuer":"https://as.example","scopes_supported":["a","b"],"grant_types_supported":[]}`,
		`{"issuer":"x","issuer":"y"}`,
		`{"ISSUER":"x"}`,
		`{"x":[{"y":{"z":[]}}],"issuer":"\u00e9\ud83d\ude00"}`,
		`{"issuer":"\ud800"}`,
		`{"jwks_uri":1}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parse(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parse(b)
		if err != nil {
			t.Fatalf("parse(%s): %v", b, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed %+v to %+v", m, m2)
		}
	})
}

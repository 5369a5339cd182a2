package issuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/token"
)

// TestScopesGrantedByPolicy: a user gets a scope only when the issuer's
// policy grants it to one of the user's roles (or to every user) and the
// client's registration allows it; asking is never enough. An unknown or
// unallowed scope gets invalid_scope (RFC 6749 §5.2). On both engines.
func TestScopesGrantedByPolicy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) {
			c.Scopes = []issuer.ScopeRule{{Scope: "notes:read"}, {Scope: "notes:export", Roles: []string{"editor", "admin"}}}
		})
		alice := e.addUser("alice", testPassword, "editor")
		e.addUser("bob", testPassword)
		webSecret := e.addClient("web", []string{issuer.GrantPassword, issuer.GrantRefreshToken}, []string{"notes:read"}, nil)

		login := func(name, scope string, extra url.Values) response {
			t.Helper()
			form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {testPassword}}
			if scope != "" {
				form.Set("scope", scope)
			}
			for k, v := range extra {
				form[k] = v
			}
			return e.postForm(issuer.TokenPath, form, "")
		}
		scopeOf := func(r response) string {
			t.Helper()
			_, body, err := token.DecodeUnverified(r.str("access_token"))
			var c struct {
				Scope string `json:"scope"`
			}
			if err == nil {
				err = json.Unmarshal(body, &c)
			}
			if err != nil {
				t.Fatalf("%d %s: %v", r.Status, r.Raw, err)
			}
			return c.Scope
		}
		web := url.Values{"client_id": {"web"}, "client_secret": {webSecret}}
		for _, tc := range []struct {
			name, user, scope string
			extra             url.Values
			want              string // granted scope, or "" with invalid
			invalid           bool
		}{
			{"role grants it", "alice", "notes:export", nil, "notes:export", false},
			{"every user's scope", "bob", "notes:read", nil, "notes:read", false},
			{"both", "alice", "notes:read notes:export", nil, "notes:read notes:export", false},
			{"role missing", "bob", "notes:export", nil, "", true},
			{"one of two missing", "bob", "notes:read notes:export", nil, "", true},
			{"unknown scope", "bob", "admin:everything", nil, "", true},
			{"unknown scope, role holder", "alice", "notes:delete", nil, "", true},
			{"nothing asked, nothing granted", "alice", "", nil, "", false},
			{"client allows it", "alice", "notes:read", web, "notes:read", false},
			{"client does not allow it", "alice", "notes:export", web, "", true},
		} {
			r := login(tc.user, tc.scope, tc.extra)
			switch {
			case tc.invalid && (r.Status != http.StatusBadRequest || r.str("error") != "invalid_scope"):
				t.Errorf("%s: %d %s, want 400 invalid_scope", tc.name, r.Status, r.Raw)
			case !tc.invalid && r.Status != http.StatusOK:
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			case !tc.invalid && scopeOf(r) != tc.want:
				t.Errorf("%s: granted %q, want %q", tc.name, scopeOf(r), tc.want)
			}
		}

		// A scope the user's roles no longer grant is gone at the next refresh.
		r := login("alice", "notes:read notes:export", nil)
		u := *alice
		u.Roles = []string{}
		if err := e.store.UpdateUser(context.Background(), &u); err != nil {
			t.Fatal(err)
		}
		if got := scopeOf(e.refresh(r.str("refresh_token"))); got != "notes:read" {
			t.Errorf("after losing the role, refresh granted %q, want notes:read", got)
		}
	})
}

// TestNoScopeWithoutPolicy: an issuer with no scope policy grants no API
// scope to anyone who asks (it used to grant whatever was asked).
func TestNoScopeWithoutPolicy(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	e.addUser("alice", testPassword, "admin")
	r := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}, "scope": {"notes:export"}}, "")
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
		t.Errorf("asking for a scope nobody defined: %d %s", r.Status, r.Raw)
	}
}

func TestParseScopeRule(t *testing.T) {
	for _, tc := range []struct {
		in    string
		scope string
		roles []string
		ok    bool
	}{
		{"notes:read", "notes:read", nil, true},
		{"notes:export=editor", "notes:export", []string{"editor"}, true},
		{"", "", nil, false},
		{"=editor", "", nil, false},
		{"notes:export=", "", nil, false},
		{"notes:export=a,b", "", nil, false},
		{"notes export", "", nil, false},
		{`notes"x`, "", nil, false},
	} {
		r, err := issuer.ParseScopeRule(tc.in)
		if (err == nil) != tc.ok || tc.ok && (r.Scope != tc.scope || strings.Join(r.Roles, ",") != strings.Join(tc.roles, ",")) {
			t.Errorf("ParseScopeRule(%q) = %+v, %v", tc.in, r, err)
		}
	}
}

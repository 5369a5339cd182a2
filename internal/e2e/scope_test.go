package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
)

// TestRequireScopeExample makes README's example true end to end: with
// `serve --scope notes:export=editor`, a real guard's
// RequireScope("notes:export") lets an editor who asked for the scope
// through, and nobody else: a user without the role cannot get the scope
// by asking (invalid_scope), and without it gets 403 insufficient_scope.
func TestRequireScopeExample(t *testing.T) {
	rule, err := issuer.ParseScopeRule("notes:export=editor")
	if err != nil {
		t.Fatal(err)
	}
	iss := issuertest.Start(t, issuertest.Config{Scopes: []issuer.ScopeRule{{Scope: "notes:read"}, rule}})
	iss.AddUser("alice", "editor")
	iss.AddUser("bob")
	g, err := guard.New(context.Background(), iss.GuardConfig("notes"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	issuertest.WaitReady(t, g)
	export := g.RequireScope("notes:export")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "csv") }))
	call := func(tok string) int {
		r := httptest.NewRequest(http.MethodGet, "/export", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		export.ServeHTTP(w, r)
		return w.Code
	}

	if got := call(iss.Login("alice", "notes:read notes:export").Access); got != http.StatusOK {
		t.Errorf("editor with notes:export: %d, want 200", got)
	}
	status, body := iss.Post(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"bob"},
		"password": {issuertest.Password}, "scope": {"notes:export"}}, "")
	if status != http.StatusBadRequest || !strings.Contains(string(body), "invalid_scope") {
		t.Errorf("bob asking for notes:export: %d %s, want 400 invalid_scope", status, body)
	}
	if got := call(iss.Login("bob", "notes:read").Access); got != http.StatusForbidden {
		t.Errorf("bob without notes:export: %d, want 403", got)
	}
	if got := call(iss.Login("alice", "").Access); got != http.StatusForbidden {
		t.Errorf("editor who did not ask for notes:export: %d, want 403", got)
	}
}

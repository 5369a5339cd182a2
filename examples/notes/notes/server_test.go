package notes_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/examples/notes/notes"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
)

// start serves the notes API for iss on the notes file db.
func start(t *testing.T, iss *issuertest.Issuer, db string) *httptest.Server {
	t.Helper()
	srv, err := notes.Open(context.Background(), notes.Config{
		Guard: iss.GuardConfig("notes"), Database: db, Logger: issuertest.Quiet, Now: iss.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	issuertest.WaitReady(t, srv)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs
}

// client is one logged-in user of one instance.
type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends a request with a JSON body unless body is empty, and returns the
// status and the body.
func (c client) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (c client) add(text string) notes.Note {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"text": text})
	status, body := c.do(http.MethodPost, "/notes", string(b))
	var n notes.Note
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &n) != nil {
		c.t.Fatalf("POST /notes: %d %s", status, body)
	}
	return n
}

func (c client) list() []notes.Note {
	c.t.Helper()
	status, body := c.do(http.MethodGet, "/notes", "")
	var ns []notes.Note
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ns) != nil {
		c.t.Fatalf("GET /notes: %d %s", status, body)
	}
	return ns
}

func texts(ns []notes.Note) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.Text)
	}
	return out
}

// setup starts an issuer with users alice, bob and root (an admin) and one
// notes instance, and returns a client of it for each user.
func setup(t *testing.T) (iss *issuertest.Issuer, base string, alice, bob, root client) {
	iss = issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	iss.AddUser("bob")
	iss.AddUser("root", notes.AdminRole)
	base = start(t, iss, filepath.Join(t.TempDir(), "notes.db")).URL
	as := func(name string) client { return client{t, base, iss.Login(name, "").Access} }
	return iss, base, as("alice"), as("bob"), as("root")
}

func TestEachUserSeesOwnNotes(t *testing.T) {
	_, _, alice, bob, _ := setup(t)
	if got := alice.list(); len(got) != 0 {
		t.Fatalf("new user's notes: %v", got)
	}
	n := alice.add("buy milk")
	if n.ID == 0 || n.Text != "buy milk" || n.Owner == "" || n.Created.IsZero() {
		t.Errorf("created %+v", n)
	}
	alice.add("línea dos\n\ttabulada")
	bob.add("bob's")
	if got := strings.Join(texts(alice.list()), "|"); got != "buy milk|línea dos\n\ttabulada" {
		t.Errorf("alice's notes: %q", got)
	}
	if got := strings.Join(texts(bob.list()), "|"); got != "bob's" {
		t.Errorf("bob's notes: %q", got)
	}
}

func TestCreateValidates(t *testing.T) {
	_, base, alice, _, _ := setup(t)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"not JSON", "application/json", `text=hi`, 400},
		{"text missing", "application/json", `{}`, 400},
		{"text not a string", "application/json", `{"text":42}`, 400},
		{"text empty", "application/json", `{"text":""}`, 400},
		{"text only space", "application/json", `{"text":" \n\t "}`, 400},
		{"text too long", "application/json", `{"text":"` + strings.Repeat("é", notes.MaxTextLength+1) + `"}`, 400},
		{"control character", "application/json", `{"text":"a\u0000b"}`, 400},
		{"unknown member", "application/json", `{"text":"hi","owner":"bob"}`, 400},
		{"two objects", "application/json", `{"text":"hi"}{"text":"again"}`, 400},
		{"body too large", "application/json", `{"text":"` + strings.Repeat("a", 5000) + `"}`, 413},
		{"form", "application/x-www-form-urlencoded", `text=hi`, 415},
		{"no content type", "", `{"text":"hi"}`, 415},
		{"longest text", "application/json; charset=utf-8", `{"text":"` + strings.Repeat("é", notes.MaxTextLength) + `"}`, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/notes", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+alice.token)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			var e struct{ Error string }
			if tc.status >= 400 && (json.Unmarshal(body, &e) != nil || e.Error == "") {
				t.Errorf("refusal without a JSON error: %s", body)
			}
		})
	}
	if got := alice.list(); len(got) != 1 {
		t.Errorf("%d notes stored, want only the valid one", len(got))
	}
}

func TestDelete(t *testing.T) {
	_, _, alice, bob, root := setup(t)
	mine, other, third := alice.add("mine"), bob.add("bob's"), bob.add("bob's too")
	del := func(c client, id int64) int {
		status, _ := c.do(http.MethodDelete, "/notes/"+strconv.FormatInt(id, 10), "")
		return status
	}
	for _, tc := range []struct {
		name   string
		by     client
		id     int64
		status int
	}{
		{"another user's note", alice, other.ID, http.StatusNotFound},
		{"own note", alice, mine.ID, http.StatusNoContent},
		{"own note again", alice, mine.ID, http.StatusNotFound},
		{"no such note", alice, 1 << 40, http.StatusNotFound},
		{"anyone's note, as admin", root, third.ID, http.StatusNoContent},
	} {
		if got := del(tc.by, tc.id); got != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.status)
		}
	}
	if status, _ := alice.do(http.MethodDelete, "/notes/abc", ""); status != http.StatusNotFound {
		t.Errorf("DELETE /notes/abc: %d, want 404", status)
	}
	if got := texts(bob.list()); len(got) != 1 || got[0] != "bob's" {
		t.Errorf("bob's notes after the deletes: %q", got)
	}
}

func TestNeedsAValidToken(t *testing.T) {
	iss, base, alice, _, _ := setup(t)
	for _, c := range []client{{t, base, ""}, {t, base, "garbage"}} {
		for _, req := range [][2]string{{"GET", "/notes"}, {"POST", "/notes"}, {"DELETE", "/notes/1"}} {
			status, body := c.do(req[0], req[1], "")
			if status != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d %s, want 401", req[0], req[1], c.token, status, body)
			}
		}
	}
	if status, _ := iss.Post("/v1/logout", nil, alice.token); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	issuertest.WaitFor(t, "the logout to reach the notes service", func() bool {
		status, _ := alice.do(http.MethodGet, "/notes", "")
		return status == http.StatusUnauthorized
	})
}

func TestHealthz(t *testing.T) {
	_, base, _, _, _ := setup(t)
	status, body := client{t, base, ""}.do(http.MethodGet, "/healthz", "")
	if status != http.StatusOK {
		t.Errorf("GET /healthz: %d %s", status, body)
	}
}

// TestInstancesShareOneFile checks that instances on one file are
// interchangeable: what one writes, the other serves.
func TestInstancesShareOneFile(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	db := filepath.Join(t.TempDir(), "notes.db")
	tok := iss.Login("alice", "").Access
	a, b := client{t, start(t, iss, db).URL, tok}, client{t, start(t, iss, db).URL, tok}
	n := a.add("written on a")
	if got := b.list(); len(got) != 1 || got[0] != n {
		t.Fatalf("b lists %+v, want %+v", got, n)
	}
	if status, _ := b.do(http.MethodDelete, "/notes/"+strconv.FormatInt(n.ID, 10), ""); status != http.StatusNoContent {
		t.Fatalf("delete on b: %d", status)
	}
	if got := a.list(); len(got) != 0 {
		t.Errorf("a lists %+v after b deleted it", got)
	}
}

package issuer_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

func (e *env) json(method, path, bearer, body string) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.http.URL+path, bytes.NewReader([]byte(body)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

func (e *env) loginAs(name, pw, userAgent string) (access, refresh string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+issuer.TokenPath, strings.NewReader(
		url.Values{"grant_type": {"password"}, "username": {name}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	r := e.do(req)
	if r.Status != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	return r.str("access_token"), r.str("refresh_token")
}

func TestSessionsAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		e.addUser("bob", testPassword)
		laptop, _ := e.loginAs("alice", testPassword, "laptop")
		phone, phoneRefresh := e.loginAs("alice", testPassword, "phone")
		bob, _ := e.loginAs("bob", testPassword, "bob's")

		r := e.get(issuer.SessionsPath, laptop)
		sessions, _ := r.Body["sessions"].([]any)
		if r.Status != http.StatusOK || len(sessions) != 2 {
			t.Fatalf("sessions: %d %s", r.Status, r.Raw)
		}
		var phoneSID string
		for _, x := range sessions {
			m := x.(map[string]any)
			if m["user_agent"] == "laptop" && m["current"] != true || m["user_agent"] == "phone" && m["current"] != false {
				t.Errorf("current flag wrong: %v", m)
			}
			if m["user_agent"] == "phone" {
				phoneSID = m["id"].(string)
			}
			if m["ip"] != "127.0.0.1" || m["created"] == nil || m["last_used"] == nil {
				t.Errorf("session lacks ip or times: %v", m)
			}
		}

		// Someone else's session looks like a missing one.
		if r := e.json(http.MethodDelete, issuer.SessionsPath+"/"+phoneSID, bob, ""); r.Status != http.StatusNotFound {
			t.Errorf("bob ended alice's session: %d", r.Status)
		}
		// From the laptop, end the phone's session.
		if r := e.json(http.MethodDelete, issuer.SessionsPath+"/"+phoneSID, laptop, ""); r.Status != http.StatusNoContent {
			t.Fatalf("end session: %d %s", r.Status, r.Raw)
		}
		if e.refresh(phoneRefresh).Status != http.StatusBadRequest || e.works(phone) {
			t.Error("the ended device still works")
		}
		if !e.works(laptop) {
			t.Error("ending the phone ended the laptop")
		}
	})
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	e.addUser("alice", testPassword)
	here, hereRefresh := e.mustLogin("alice", testPassword)
	there, _ := e.mustLogin("alice", testPassword)
	const next = "quiet lantern velvet harbor 7"

	tests := []struct {
		body   string
		status int
	}{
		{`{"current_password":"wrong wrong wrong wrong","new_password":"` + next + `"}`, http.StatusForbidden},
		{`{"current_password":"` + testPassword + `","new_password":"short"}`, http.StatusBadRequest},
		{`{"current_password":"` + testPassword + `"}`, http.StatusBadRequest},
		{`{"current_password":"` + testPassword + `","new_password":"` + next + `","extra":1}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if r := e.json(http.MethodPost, issuer.PasswordPath, here, tt.body); r.Status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.body, r.Status, r.Raw, tt.status)
		}
	}
	if r := e.json(http.MethodPost, issuer.PasswordPath, here, `{"current_password":"`+testPassword+`","new_password":"`+next+`"}`); r.Status != http.StatusNoContent {
		t.Fatalf("change password: %d %s", r.Status, r.Raw)
	}
	if e.works(there) {
		t.Error("another session survived the password change")
	}
	if !e.works(here) || e.refresh(hereRefresh).Status != http.StatusOK {
		t.Error("the session that changed the password was ended")
	}
	if e.login("alice", testPassword).Status != http.StatusBadRequest {
		t.Error("the old password still works")
	}
	e.mustLogin("alice", next)
}

func TestSignup(t *testing.T) {
	off := newEnv(t, sqliteEngine().open(t), nil)
	if r := off.json(http.MethodPost, issuer.SignupPath, "", `{"username":"carol","password":"`+testPassword+`"}`); r.Status != http.StatusNotFound {
		t.Errorf("signup while disabled: %d", r.Status)
	}
	e := newEnv(t, sqliteEngine().open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) { c.Signup = true })
	r := e.json(http.MethodPost, issuer.SignupPath, "", `{"username":"Carol","password":"`+testPassword+`"}`)
	if r.Status != http.StatusCreated || r.str("name") != "carol" || strings.Contains(r.Raw, "argon2") {
		t.Fatalf("signup: %d %s", r.Status, r.Raw)
	}
	e.mustLogin("carol", testPassword)
	if r := e.json(http.MethodPost, issuer.SignupPath, "", `{"username":"ＣＡＲＯＬ","password":"`+testPassword+`"}`); r.Status != http.StatusConflict {
		t.Errorf("second carol: %d %s", r.Status, r.Raw)
	}
	if r := e.json(http.MethodPost, issuer.SignupPath, "", `{"username":"dave","password":"password1234567"}`); r.Status != http.StatusBadRequest {
		t.Errorf("weak password: %d %s", r.Status, r.Raw)
	}
	if r := e.json(http.MethodPost, issuer.SignupPath, "", `{"username":"d a v e!","password":"`+testPassword+`"}`); r.Status != http.StatusBadRequest {
		t.Errorf("bad name: %d %s", r.Status, r.Raw)
	}
}

// adminEndpoints lists every admin endpoint with a body it accepts.
var adminEndpoints = []struct{ method, path, body string }{
	{"GET", "/users", ""},
	{"POST", "/users", `{"name":"zed","password":"` + testPassword + `"}`},
	{"GET", "/users/ID", ""},
	{"POST", "/users/ID/disable", ""},
	{"POST", "/users/ID/enable", ""},
	{"PUT", "/users/ID/roles", `{"roles":["x"]}`},
	{"POST", "/users/ID/password", `{"password":"` + testPassword + `"}`},
	{"POST", "/users/ID/logout", ""},
	{"GET", "/clients", ""},
	{"POST", "/clients", `{"name":"svc"}`},
	{"POST", "/clients/CID/secret", ""},
	{"DELETE", "/clients/CID", ""},
	{"GET", "/keys", ""},
	{"POST", "/keys/rotate", ""},
	{"POST", "/keys/KID/compromise", ""},
	{"POST", "/revocations", `{"kind":"token","id":"x"}`},
	{"GET", "/audit", ""},
}

func TestAdminNeedsRole(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	u := e.addUser("alice", testPassword, "editor")
	e.addClient("svc", nil, nil, nil)
	at, _ := e.mustLogin("alice", testPassword)
	for _, ep := range adminEndpoints {
		path := issuer.AdminPath + strings.NewReplacer("CID", "svc", "KID", "k", "ID", u.ID).Replace(ep.path)
		if r := e.json(ep.method, path, at, ep.body); r.Status != http.StatusForbidden || r.str("error") != "insufficient_scope" {
			t.Errorf("%s %s as a non-admin: %d %s", ep.method, path, r.Status, r.Raw)
		}
		if r := e.json(ep.method, path, "", ep.body); r.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d", ep.method, path, r.Status)
		}
	}
	if u, _ := e.store.UserByID(context.Background(), u.ID); u.Disabled || len(u.Roles) != 1 {
		t.Error("a refused admin call changed the user")
	}
	if _, err := e.store.Client(context.Background(), "svc"); err != nil {
		t.Error("a refused admin call deleted the client")
	}
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	e.addUser("root", testPassword, issuer.AdminRole)
	admin, _ := e.mustLogin("root", testPassword)
	var seen []string // every response, to check none leaks a secret
	call := func(method, path, body string, want int) response {
		t.Helper()
		r := e.json(method, issuer.AdminPath+path, admin, body)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Raw, want)
		}
		seen = append(seen, r.Raw)
		return r
	}

	created := call("POST", "/users", `{"name":"Alice","password":"`+testPassword+`","roles":["editor"]}`, 201)
	id := created.str("id")
	call("POST", "/users", `{"name":"alice","password":"`+testPassword+`"}`, 409)
	call("POST", "/users", `{"name":"bob","password":"weak"}`, 400)
	for _, n := range []string{"bob", "carol", "dave"} {
		call("POST", "/users", `{"name":"`+n+`","password":"`+testPassword+`"}`, 201)
	}
	if list := call("GET", "/users?q=ali", "", 200); len(list.Body["users"].([]any)) != 1 {
		t.Errorf("search: %s", list.Raw)
	}
	page := call("GET", "/users?limit=2", "", 200)
	if len(page.Body["users"].([]any)) != 2 || page.str("next") != "bob" {
		t.Errorf("page: %s", page.Raw)
	}
	if next := call("GET", "/users?limit=2&after=bob", "", 200); next.Body["users"].([]any)[0].(map[string]any)["name"] != "carol" {
		t.Errorf("next page: %s", next.Raw)
	}
	call("GET", "/users/nope", "", 404)

	at, rt := e.mustLogin("alice", testPassword)
	if show := call("GET", "/users/"+id, "", 200); len(show.Body["sessions"].([]any)) != 1 {
		t.Errorf("show: %s", show.Raw)
	}
	// Roles: the next refresh carries them.
	call("PUT", "/users/"+id+"/roles", `{"roles":["editor","auditor"]}`, 200)
	r := e.refresh(rt)
	if info := e.get(issuer.UserinfoPath, r.str("access_token")); len(info.Body["roles"].([]any)) != 2 {
		t.Errorf("roles after refresh: %s", info.Raw)
	}
	// Disable revokes everything; enable lets the user back in.
	call("POST", "/users/"+id+"/disable", "", 204)
	if e.works(at) || e.refresh(r.str("refresh_token")).Status != http.StatusBadRequest || e.login("alice", testPassword).Status != http.StatusBadRequest {
		t.Error("a disabled user still works")
	}
	call("POST", "/users/"+id+"/enable", "", 204)
	e.clock.Advance(time.Second)
	at, _ = e.mustLogin("alice", testPassword)
	call("POST", "/users/"+id+"/logout", "", 204)
	if e.works(at) {
		t.Error("ending all sessions left a token working")
	}
	e.clock.Advance(time.Second)
	call("POST", "/users/"+id+"/password", `{"password":"quiet lantern velvet harbor 7"}`, 204)
	e.mustLogin("alice", "quiet lantern velvet harbor 7")

	// Keys: rotate, then compromise the new signer; its tokens die.
	keys := call("GET", "/keys", "", 200)
	if len(keys.Body["keys"].([]any)) != 1 {
		t.Fatalf("keys: %s", keys.Raw)
	}
	rotated := call("POST", "/keys/rotate", "", 200)
	at, _ = e.mustLogin("alice", "quiet lantern velvet harbor 7")
	call("POST", "/keys/"+rotated.str("kid")+"/compromise", "", 200)
	call("POST", "/keys/nope/compromise", "", 404)
	if e.works(at) {
		t.Error("a token of a compromised key works")
	}
	var kidRevoked bool
	for _, rev := range e.revocations() {
		kidRevoked = kidRevoked || (rev["kind"] == "kid" && rev["value"] == rotated.str("kid"))
	}
	if !kidRevoked {
		t.Error("the compromise is not in the feed")
	}

	// Revocations by ID.
	at, _ = e.mustLogin("alice", "quiet lantern velvet harbor 7")
	sid := e.get(issuer.UserinfoPath, at).str("sid")
	call("POST", "/revocations", `{"kind":"session","id":"`+sid+`"}`, 200)
	if e.works(at) {
		t.Error("revoked session works")
	}
	call("POST", "/revocations", `{"kind":"session","id":"nope"}`, 404)
	call("POST", "/revocations", `{"kind":"planet","id":"x"}`, 400)
	call("POST", "/revocations", `{"kind":"token","id":"some-jti","expires":"2030-01-01T00:00:00Z"}`, 200)
	call("POST", "/revocations", `{"kind":"user","id":"`+id+`"}`, 200)

	// Clients: the secret is shown once, at creation and rotation, never
	// in a listing.
	made := call("POST", "/clients", `{"client_id":"reports","name":"Reports","grant_types":["client_credentials"],"scopes":["read"],"roles":["service"]}`, 201)
	secret := made.str("client_secret")
	seen = seen[:len(seen)-1] // the creation answer carries the secret by design
	call("POST", "/clients", `{"client_id":"reports"}`, 409)
	call("POST", "/clients", `{"grant_types":["implicit"]}`, 400)
	list := call("GET", "/clients", "", 200)
	if len(list.Body["clients"].([]any)) != 1 || strings.Contains(list.Raw, secret) || strings.Contains(list.Raw, "digest") {
		t.Errorf("client list: %s", list.Raw)
	}
	rot := call("POST", "/clients/reports/secret?overlap=0s", "", 200)
	seen = seen[:len(seen)-1] // so does the rotation answer
	if rot.str("client_secret") == "" || rot.str("client_secret") == secret {
		t.Errorf("rotation: %s", rot.Raw)
	}
	call("POST", "/clients/nope/secret", "", 404)
	call("DELETE", "/clients/reports", "", 204)
	call("DELETE", "/clients/reports", "", 404)

	// The audit log names every admin action and can be filtered.
	audit := call("GET", "/audit?type=admin_user_disabled", "", 200)
	events := audit.Body["events"].([]any)
	if len(events) != 1 || events[0].(map[string]any)["user_id"] != id || !strings.Contains(events[0].(map[string]any)["detail"].(string), "by ") {
		t.Errorf("audit: %s", audit.Raw)
	}
	if byUser := call("GET", "/audit?user="+id+"&limit=500", "", 200); len(byUser.Body["events"].([]any)) < 8 {
		t.Errorf("audit of alice: %s", byUser.Raw)
	}
	if p := call("GET", "/audit?limit=3", "", 200); len(p.Body["events"].([]any)) != 3 || p.Body["next"] == nil {
		t.Errorf("audit page: %s", p.Raw)
	}

	for _, raw := range seen {
		if len(raw) == 0 {
			continue
		}
		for _, leak := range []string{"argon2", "password_hash", "refresh_token", "digest", testPassword, secret, rot.str("client_secret")} {
			if strings.Contains(raw, leak) {
				t.Errorf("an admin response contains %q: %s", leak, raw)
			}
		}
	}
}

package issuer_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

// TestNamesNeverReadAsIDs: a user name and a user ID never look alike, so
// an operator's `user disable ID`, `revoke user ID` or `user roles ID admin`
// reaches the user with that ID and never one who signed up under a name
// spelled like it. Names of that form are refused, and a lookup of an ID
// goes by ID only, even if an older account already has such a name. On
// both engines.
func TestNamesNeverReadAsIDs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		ctx := context.Background()
		victim := e.addUser("victim", testPassword)

		for _, name := range []string{victim.ID, strings.ToLower(victim.ID), strings.ToUpper(victim.ID), " " + victim.ID + " "} {
			if _, err := e.acct.AddUser(ctx, name, testPassword, nil); !errors.Is(err, password.ErrInvalidName) {
				t.Errorf("AddUser(%q) = %v, want ErrInvalidName", name, err)
			}
		}
		if r := e.json(http.MethodPost, "/v1/admin/users", e.adminToken(), `{"username":"`+victim.ID+`","password":"`+testPassword+`"}`); r.Status != http.StatusBadRequest {
			t.Errorf("admin API, a user named like an ID: %d %s", r.Status, r.Raw)
		}

		// An account that got such a name before names were checked.
		squatter := &waxseal.User{ID: "squatter-id-0000000000x", Name: strings.ToLower(victim.ID), PasswordHash: victim.PasswordHash,
			Roles: []string{}, Created: e.clock.Now(), Updated: e.clock.Now()}
		if err := e.store.CreateUser(ctx, squatter); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []string{victim.ID, "victim", "VICTIM"} {
			u, err := e.acct.FindUser(ctx, arg)
			if err != nil || u.ID != victim.ID {
				t.Errorf("FindUser(%q) = %+v, %v; want the victim %s", arg, u, err, victim.ID)
			}
		}
		if _, err := e.acct.FindUser(ctx, "AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, waxseal.ErrNotFound) {
			t.Errorf("an unknown ID: %v, want ErrNotFound", err)
		}

		// Names that only resemble IDs stay allowed.
		for _, name := range []string{"alice", "a.name-of-twenty-two-x", "twenty_one_characters", "twenty-three-characters"} {
			if _, err := e.acct.AddUser(ctx, name, testPassword, nil); err != nil {
				t.Errorf("AddUser(%q): %v", name, err)
			}
		}
	})
}

func (e *env) adminToken() string {
	e.t.Helper()
	e.addUser("root", testPassword, "admin")
	access, _ := e.mustLogin("root", testPassword)
	return access
}

// TestReservedClientIDs: no client can be registered under an ID with a
// meaning of its own: "default" (the unregistered public client; a
// registered one would switch client binding off for everyone who uses
// it) in any case, nor an ID of a user's form (a client_credentials token's
// "sub" is its client ID, so it would speak for that user). Refused by
// Accounts.CreateClient and the admin API.
func TestReservedClientIDs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		ctx := context.Background()
		admin := e.adminToken()
		victim := e.addUser("victim", testPassword)
		for _, id := range []string{"default", "Default", "DEFAULT", victim.ID, "AAAAAAAAAAAAAAAAAAAAAA"} {
			if _, _, err := e.acct.CreateClient(ctx, issuer.ClientSpec{ID: id, Name: "x", GrantTypes: []string{"client_credentials"}}); err == nil {
				t.Errorf("CreateClient(%q) succeeded", id)
			}
			if r := e.json(http.MethodPost, "/v1/admin/clients", admin, `{"client_id":"`+id+`"}`); r.Status != http.StatusBadRequest {
				t.Errorf("admin API, client %q: %d %s", id, r.Status, r.Raw)
			}
		}
		if _, _, err := e.acct.CreateClient(ctx, issuer.ClientSpec{Name: "generated", GrantTypes: []string{"client_credentials"}}); err != nil {
			t.Errorf("a generated client ID: %v", err)
		}
	})
}

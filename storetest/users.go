package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

func testUsers(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	alice := newUser("alice", "admin", "ops")
	mustCreateUser(t, s, alice)
	bob := newUser("bob") // no roles
	mustCreateUser(t, s, bob)

	for _, u := range []*waxseal.User{alice, bob} {
		got, err := s.UserByName(ctx, u.Name)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "UserByName("+u.Name+")", got, u)
		if got.Created.Location() != time.UTC || got.Updated.Location() != time.UTC {
			t.Errorf("UserByName(%s): times in %v and %v, want UTC", u.Name, got.Created.Location(), got.Updated.Location())
		}
		got, err = s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "UserByID("+u.ID+")", got, u)
	}
	_, err := s.UserByName(ctx, "carol")
	wantErr(t, err, waxseal.ErrNotFound)
	_, err = s.UserByID(ctx, "id-carol")
	wantErr(t, err, waxseal.ErrNotFound)

	t.Run("conflict", func(t *testing.T) {
		sameName := newUser("alice")
		sameName.ID = "id-other"
		wantErr(t, s.CreateUser(ctx, sameName), waxseal.ErrConflict)
		sameID := newUser("other")
		sameID.ID = alice.ID
		wantErr(t, s.CreateUser(ctx, sameID), waxseal.ErrConflict)
		if _, err := s.UserByName(ctx, "other"); err == nil {
			t.Error("a user that conflicted was stored")
		}
	})

	t.Run("update", func(t *testing.T) {
		alice.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$new"
		alice.Roles = []string{"ops", "with space", `quote"comma,brace}`}
		alice.Disabled = true
		alice.Updated = t0.Add(time.Hour)
		if err := s.UpdateUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		got, err := s.UserByID(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "updated user", got, alice)

		alice.Roles, alice.Disabled = nil, false
		if err := s.UpdateUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		got, err = s.UserByName(ctx, alice.Name)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "user updated again", got, alice)

		wantErr(t, s.UpdateUser(ctx, newUser("carol")), waxseal.ErrNotFound)
	})
}

func testListUsers(t *testing.T, s waxseal.Store) {
	var all []*waxseal.User
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		all = append(all, newUser(name))
	}
	for _, i := range []int{4, 0, 3, 1, 2} {
		mustCreateUser(t, s, all[i])
	}
	checkPages(t, "ListUsers", all, func(u *waxseal.User) string { return u.Name },
		func(after string, limit int) ([]*waxseal.User, error) {
			return s.ListUsers(t.Context(), after, limit, "")
		})
}

func testSearchUsers(t *testing.T, s waxseal.Store) {
	// Canonical names hold neither % nor \, but the store must not care.
	for _, name := range []string{"alice", "malice", "bob_ross", "bobaross", "100%", "1000", `back\slash`, "backxslash"} {
		mustCreateUser(t, s, newUser(name))
	}
	for _, tc := range []struct {
		search string
		after  string
		limit  int
		want   []string
	}{
		{search: "lic", limit: 10, want: []string{"alice", "malice"}},
		{search: "lic", limit: 1, want: []string{"alice"}},
		{search: "lic", after: "alice", limit: 10, want: []string{"malice"}},
		{search: "alice", limit: 10, want: []string{"alice", "malice"}},
		{search: "zz", limit: 10, want: nil},
		// LIKE's metacharacters match themselves.
		{search: "_", limit: 10, want: []string{"bob_ross"}},
		{search: "b_r", limit: 10, want: []string{"bob_ross"}},
		{search: "%", limit: 10, want: []string{"100%"}},
		{search: "0%", limit: 10, want: []string{"100%"}},
		{search: `\`, limit: 10, want: []string{`back\slash`}},
		{search: `k\s`, limit: 10, want: []string{`back\slash`}},
		// Names are lower-case, and so is the search, on every engine.
		{search: "LIC", limit: 10, want: []string{"alice", "malice"}},
	} {
		got, err := s.ListUsers(t.Context(), tc.after, tc.limit, tc.search)
		if err != nil {
			t.Fatal(err)
		}
		var want []*waxseal.User
		for _, name := range tc.want {
			want = append(want, newUser(name))
		}
		same(t, fmt.Sprintf("ListUsers(%q, %d, %q)", tc.after, tc.limit, tc.search), got, want)
	}
}

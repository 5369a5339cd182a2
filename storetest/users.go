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
	for _, name := range []string{"erin", "alice", "dave", "bob", "carol"} {
		mustCreateUser(t, s, newUser(name))
	}
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		all = append(all, newUser(name))
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []*waxseal.User
	}{
		{"", 2, all[:2]},
		{"bob", 2, all[2:4]},
		{"dave", 10, all[4:]},
		{"b", 1, all[1:2]},
		{"erin", 10, nil},
		{"", 100, all},
	} {
		got, err := s.ListUsers(t.Context(), tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("ListUsers(%q, %d)", tc.after, tc.limit), got, tc.want)
	}
}

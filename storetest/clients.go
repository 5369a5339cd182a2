package storetest

import (
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

func mustClient(t *testing.T, s waxseal.Store, id string) *waxseal.Client {
	t.Helper()
	c, err := s.Client(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testClients(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	svc := newClient("svc")
	mustCreateClient(t, s, svc)
	bare := &waxseal.Client{ID: "bare", Name: "no lists", SecretDigest: sum("bare"), Created: t0, Updated: t0}
	mustCreateClient(t, s, bare)

	for _, c := range []*waxseal.Client{svc, bare} {
		got := mustClient(t, s, c.ID)
		same(t, "Client("+c.ID+")", got, c)
		if got.Created.Location() != time.UTC || got.Updated.Location() != time.UTC {
			t.Errorf("Client(%s): times in %v and %v, want UTC", c.ID, got.Created.Location(), got.Updated.Location())
		}
	}
	_, err := s.Client(ctx, "nobody")
	wantErr(t, err, waxseal.ErrNotFound)

	t.Run("conflict", func(t *testing.T) {
		other := newClient("svc")
		other.Name = "impostor"
		wantErr(t, s.CreateClient(ctx, other), waxseal.ErrConflict)
		same(t, "client after a conflict", mustClient(t, s, "svc"), svc)
	})

	t.Run("update", func(t *testing.T) {
		// Rotate the secret: the old one stays accepted for an hour.
		rotated := t0.Add(time.Hour)
		svc.PreviousSecretDigest, svc.SecretDigest = svc.SecretDigest, sum("second secret of svc")
		svc.PreviousSecretExpires = rotated.Add(time.Hour)
		svc.Name = "renamed"
		svc.GrantTypes = []string{"client_credentials", "refresh_token"}
		svc.Scopes = []string{"read", "with space", `quote"comma,brace}`}
		svc.Roles = nil
		svc.Updated = rotated
		want := *svc
		svc.Created = rotated // not written
		if err := s.UpdateClient(ctx, svc); err != nil {
			t.Fatal(err)
		}
		same(t, "rotated client", mustClient(t, s, "svc"), &want)

		// The grace window is over: the previous secret goes, to NULL.
		svc.PreviousSecretDigest, svc.PreviousSecretExpires = nil, time.Time{}
		svc.Updated = rotated.Add(2 * time.Hour)
		if err := s.UpdateClient(ctx, svc); err != nil {
			t.Fatal(err)
		}
		got := mustClient(t, s, "svc")
		if got.PreviousSecretDigest != nil || !got.PreviousSecretExpires.IsZero() {
			t.Errorf("previous secret = %x until %v, want none", got.PreviousSecretDigest, got.PreviousSecretExpires)
		}
		want.PreviousSecretDigest, want.PreviousSecretExpires, want.Updated = nil, time.Time{}, svc.Updated
		same(t, "client with its previous secret dropped", got, &want)
		same(t, "other client", mustClient(t, s, "bare"), bare)

		wantErr(t, s.UpdateClient(ctx, newClient("nobody")), waxseal.ErrNotFound)
		if _, err := s.Client(ctx, "nobody"); err == nil {
			t.Error("updating a client that does not exist created it")
		}
	})
}

func testListClients(t *testing.T, s waxseal.Store) {
	var all []*waxseal.Client
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		all = append(all, newClient(id))
	}
	for _, i := range []int{4, 0, 3, 1, 2} {
		mustCreateClient(t, s, all[i])
	}
	checkPages(t, "ListClients", all, func(c *waxseal.Client) string { return c.ID },
		func(after string, limit int) ([]*waxseal.Client, error) {
			return s.ListClients(t.Context(), after, limit)
		})
}

func testDeleteClient(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	wakes, _ := watch(t, s)
	f := &follower{s: s, wakes: wakes}
	f.started(t, s)
	mustCreateClient(t, s, newClient("svc"))
	mustCreateClient(t, s, newClient("other"))
	before := mustAppend(t, s, revocation(waxseal.RevokeToken, "before", t0))

	end := t0.Add(time.Hour)
	rev := waxseal.Revocation{Kind: waxseal.RevokeSubject, Value: "svc", NotBefore: end, Created: end, Expires: end.Add(time.Hour)}
	got, err := s.DeleteClient(ctx, "svc", rev)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Cursor <= before.Cursor {
		t.Fatalf("DeleteClient returned %+v, want the revocation with a cursor after %d", got, before.Cursor)
	}
	rev.Cursor = got.Cursor
	same(t, "revocation", got, &rev)
	f.await(t, "svc")
	log, err := s.Revocations(ctx, before.Cursor, 10, end)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "revocation log", log, []waxseal.Revocation{rev})

	_, err = s.Client(ctx, "svc")
	wantErr(t, err, waxseal.ErrNotFound)
	mustClient(t, s, "other")

	// Deleting it again, or one that never was, appends nothing.
	for _, id := range []string{"svc", "nobody"} {
		rev, err := s.DeleteClient(ctx, id, revocation(waxseal.RevokeSubject, id, end))
		wantErr(t, err, waxseal.ErrNotFound)
		if rev != nil {
			t.Errorf("DeleteClient(%s) = %+v, want nil", id, rev)
		}
	}
	if log, err := s.Revocations(ctx, before.Cursor, 10, end); err != nil || len(log) != 1 {
		t.Errorf("log = %+v, %v; want the one entry", log, err)
	}
}

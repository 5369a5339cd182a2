package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyring"
)

func testAudit(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	var all []waxseal.AuditEvent // newest first
	for i := range 7 {
		e := waxseal.AuditEvent{
			Time: t0.Add(time.Duration(i) * time.Second), Type: []string{"login", "refresh"}[i%2],
			UserID: []string{"id-alice", "id-bob", ""}[i%3], SessionID: fmt.Sprint("s", i),
			ClientID: "cli", IP: "192.0.2.7", Detail: fmt.Sprint("event ", i),
		}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		all = slices.Insert(all, 0, e)
	}
	got, err := s.Audit(ctx, 0, 100, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("Audit returned %d events, want %d", len(got), len(all))
	}
	for i := range got {
		if i > 0 && got[i].ID >= got[i-1].ID {
			t.Errorf("event ID %d after %d, want newest first", got[i].ID, got[i-1].ID)
		}
		all[i].ID = got[i].ID
	}
	same(t, "Audit", got, all)

	filter := func(user, typ string) []waxseal.AuditEvent {
		var out []waxseal.AuditEvent
		for _, e := range all {
			if (user == "" || e.UserID == user) && (typ == "" || e.Type == typ) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct{ user, typ string }{
		{"", ""}, {"id-alice", ""}, {"", "refresh"}, {"id-bob", "login"}, {"id-carol", ""}, {"", "logout"},
	} {
		want := filter(tc.user, tc.typ)
		// Page through two at a time.
		var paged []waxseal.AuditEvent
		for before := int64(0); ; {
			page, err := s.Audit(ctx, before, 2, tc.user, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of %d events, limit 2", len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			before = page[len(page)-1].ID
		}
		same(t, fmt.Sprintf("Audit(user %q, type %q)", tc.user, tc.typ), paged, want)
	}
}

func testKeys(t *testing.T, s waxseal.Store) {
	ctx := t.Context()
	rec := func(id string, minutes int) keyring.Record {
		at := t0.Add(time.Duration(minutes) * time.Minute)
		return keyring.Record{
			ID: id, Algorithm: jwk.EdDSA,
			Created: at, Activates: at.Add(time.Hour), Deactivates: at.Add(25 * time.Hour),
			Sealed: []byte("sealed " + id),
		}
	}
	load := func() []keyring.Record {
		t.Helper()
		recs, err := s.LoadKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(recs, func(a, b keyring.Record) int { return strings.Compare(a.ID, b.ID) })
		return recs
	}
	same(t, "no keys", load(), []keyring.Record(nil))

	a, b := rec("a", 0), rec("b", 1)
	a.Algorithm = jwk.ES256
	for _, r := range []keyring.Record{a, b} {
		if err := s.SaveKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	same(t, "saved keys", load(), []keyring.Record{a, b})

	a.Deactivates = a.Activates
	a.Retires = a.Activates.Add(time.Hour)
	a.Compromised = t0.Add(time.Hour)
	a.Sealed = []byte("resealed a")
	if err := s.SaveKey(ctx, a); err != nil {
		t.Fatal(err)
	}
	same(t, "updated keys", load(), []keyring.Record{a, b})

	var wg sync.WaitGroup
	want := []keyring.Record{a, b}
	for i := range 10 {
		r := rec(fmt.Sprint("k", i), i)
		want = append(want, r)
		wg.Go(func() {
			if err := s.SaveKey(ctx, r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	same(t, "keys saved at once", load(), want)
}

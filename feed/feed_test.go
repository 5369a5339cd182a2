package feed

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
)

func TestEventReader(t *testing.T) {
	stream := "retry: 2000\n\n: keep-alive\n\nid: 1\nevent: revocation\ndata: {\"a\":1}\n\n" +
		"id:2\r\ndata: line1\r\ndata: line2\r\n\r\nid: 3\ndata: cut"
	er := NewEventReader(strings.NewReader(stream))
	want := []Event{{Retry: "2000"}, {ID: "1", Type: "revocation", Data: `{"a":1}`}, {ID: "2", Data: "line1\nline2"}}
	for i, w := range want {
		got, err := er.Next()
		if err != nil || got != w {
			t.Fatalf("event %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := er.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut event: %v", err)
	}
	big := NewEventReader(strings.NewReader("data: " + strings.Repeat("x", maxEventSize) + "\n\n"))
	if _, err := big.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized event: %v", err)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	r := waxseal.Revocation{Cursor: 7, Kind: waxseal.RevokeSubject, Value: "u1",
		NotBefore: time.Unix(100, 1), Expires: time.Unix(200, 0)}
	e := FromRevocation(r)
	if e.NotBefore != 101 {
		t.Errorf("not_before %d: a fractional not-before must round up", e.NotBefore)
	}
	back, err := ParseEntry(e.Marshal())
	if err != nil || back != e {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if e.Value != "" || e.Digest != waxseal.RevokeSubject.Digest("u1") {
		t.Errorf("a subject entry on the wire: value %q, digest %q; want only the digest", e.Value, e.Digest)
	}
	if got := back.Revocation(); got.Kind != r.Kind || got.Digest != e.Digest || !got.NotBefore.Equal(time.Unix(101, 0)) {
		t.Errorf("Revocation() = %+v", got)
	}
}

func TestParseStrict(t *testing.T) {
	for _, bad := range []string{
		`{"cursor":1,"kind":"jti","value":"x","expires":5,"cursor":2}`,
		`{"cursor":"1","kind":"jti","value":"x","expires":5}`,
		`{"cursor":1.5,"kind":"jti","value":"x","expires":5}`,
		`{"cursor":1,"kind":"JTI","value":"x","expires":5}`,
		`{"cursor":1,"kind":"jti","value":"","expires":5}`,
		`{"cursor":1,"kind":"sub","value":"u","expires":5}`,
		`{"Cursor":1,"kind":"jti","value":"x","expires":5}`,
		// Tokens, sessions and subjects travel only as digests; keys only
		// as their kid.
		`{"cursor":1,"kind":"sid","value":"s","expires":5}`,
		`{"cursor":1,"kind":"jti","digest":"short","expires":5}`,
		`{"cursor":1,"kind":"jti","value":"x","digest":"` + waxseal.RevokeToken.Digest("x") + `","expires":5}`,
		`{"cursor":1,"kind":"kid","digest":"` + waxseal.RevokeKey.Digest("k") + `","expires":5}`,
	} {
		if _, err := ParseEntry([]byte(bad)); err == nil {
			t.Errorf("ParseEntry(%s) accepted", bad)
		}
	}
	for _, bad := range []string{
		`{"revocations":[]}`,
		`{"revocations":[{"cursor":2,"kind":"jti","value":"x","expires":5},{"cursor":1,"kind":"jti","value":"y","expires":5}],"cursor":2}`,
		`{"revocations":[{"cursor":3,"kind":"jti","value":"x","expires":5}],"cursor":2}`,
	} {
		if _, err := ParsePage([]byte(bad)); err == nil {
			t.Errorf("ParsePage(%s) accepted", bad)
		}
	}
	p, err := ParsePage([]byte(`{"revocations":[{"cursor":1,"kind":"sid","digest":"` + waxseal.RevokeSession.Digest("s") + `","expires":5}],"cursor":1,"more":false}`))
	if err != nil || len(p.Revocations) != 1 || p.Cursor != 1 {
		t.Fatalf("ParsePage: %+v %v", p, err)
	}
}

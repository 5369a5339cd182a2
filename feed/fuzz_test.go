package feed

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzParsePage: ParsePage never panics, and what it accepts is a page a
// follower can trust: cursors strictly increasing and none past the page's,
// every entry of a known kind, and the page reads back the same after
// encoding. The seed corpus is in testdata/fuzz/FuzzParsePage.
func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"revocations":[{"cursor":1,"kind":"kid","value":"a","expires":2}],"cursor":1,"more":false}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePage(data)
		if err != nil {
			return
		}
		for i, e := range p.Revocations {
			if e.Cursor <= 0 || e.Cursor > p.Cursor || (i > 0 && e.Cursor <= p.Revocations[i-1].Cursor) {
				t.Fatalf("accepted cursors out of order: %+v", p)
			}
			if _, err := ParseEntry(e.Marshal()); err != nil {
				t.Fatalf("accepted entry %+v does not read back: %v", e, err)
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePage(b)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("page %s reads back as %+v, %v; want %+v", b, again, err, p)
		}
	})
}

// FuzzEventReader: the SSE reader never panics, never returns an event
// larger than the limit, and ends only with EOF, a cut-off event or
// ErrEventTooLarge. The seed corpus is in testdata/fuzz/FuzzEventReader.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte("retry: 2000\n\n: keep-alive\n\nid: 1\nevent: revocation\ndata: {}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		er := NewEventReader(strings.NewReader(string(data)))
		for range len(data) + 1 {
			ev, err := er.Next()
			switch {
			case err == nil:
				if len(ev.ID)+len(ev.Type)+len(ev.Data)+len(ev.Retry) > maxEventSize {
					t.Fatalf("event of %d bytes passed the limit", len(ev.Data))
				}
				if strings.ContainsRune(ev.ID, 0) {
					t.Fatalf("event ID %q holds NUL", ev.ID)
				}
				continue
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrEventTooLarge):
				return
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		t.Fatal("more events than bytes")
	})
}

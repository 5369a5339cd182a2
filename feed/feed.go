// Package feed is the wire form of the issuer's revocation feed: how the
// revocation log travels from the issuer to every verifier, as JSON pages
// and as a Server-Sent Events stream whose event IDs are log cursors.
package feed

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/strictjson"
)

// EventType is the SSE event name of a revocation.
const EventType = "revocation"

// Entry is one revocation on the wire. Times are whole Unix seconds, like
// the NumericDates they are compared with. A key ("kid") travels as its
// Value; a token, session or subject only as its Digest
// (waxseal.RevocationKind.Digest), so the public feed hands out no token,
// session or user IDs. An old reader that expects a value for every kind
// refuses such an entry, and fails closed.
type Entry struct {
	Cursor    int64  `json:"cursor"`
	Kind      string `json:"kind"`
	Value     string `json:"value,omitempty"`      // for kind "kid"
	Digest    string `json:"digest,omitempty"`     // for every other kind
	NotBefore int64  `json:"not_before,omitempty"` // for kind "sub"
	Expires   int64  `json:"expires"`
}

// Page is the answer to GET /v1/revocations?after=CURSOR.
type Page struct {
	Revocations []Entry `json:"revocations"`
	// Cursor is where the next request resumes: the last entry's cursor,
	// or the request's own when the page is empty.
	Cursor int64 `json:"cursor"`
	// More is true when the page was cut at its limit.
	More bool `json:"more"`
}

// FromRevocation returns r's wire form. A not-before time is rounded up to
// a whole second, so no token issued before it escapes by rounding.
func FromRevocation(r waxseal.Revocation) Entry {
	e := Entry{Cursor: r.Cursor, Kind: string(r.Kind), Expires: ceilUnix(r.Expires)}
	switch {
	case !r.Kind.Digested():
		e.Value = r.Value
	case r.Digest != "":
		e.Digest = r.Digest
	default:
		e.Digest = r.Kind.Digest(r.Value)
	}
	if !r.NotBefore.IsZero() {
		e.NotBefore = ceilUnix(r.NotBefore)
	}
	return e
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// Revocation returns the domain form of e.
func (e Entry) Revocation() waxseal.Revocation {
	r := waxseal.Revocation{Cursor: e.Cursor, Kind: waxseal.RevocationKind(e.Kind), Value: e.Value, Digest: e.Digest,
		Expires: time.Unix(e.Expires, 0)}
	if e.NotBefore != 0 {
		r.NotBefore = time.Unix(e.NotBefore, 0)
	}
	return r
}

// ParseEntry reads one entry strictly: a verifier that misread the feed
// would miss revocations, so anything unexpected is an error, not a guess.
func ParseEntry(data []byte) (Entry, error) {
	d := strictjson.NewDecoder(data)
	e, err := parseEntry(d)
	if err == nil {
		err = d.End()
	}
	return e, err
}

func parseEntry(d *strictjson.Decoder) (Entry, error) {
	var e Entry
	err := d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "cursor":
			e.Cursor, err = integer(d)
		case "kind":
			e.Kind, err = d.String()
		case "value":
			e.Value, err = d.String()
		case "digest":
			e.Digest, err = d.String()
		case "not_before":
			e.NotBefore, err = integer(d)
		case "expires":
			e.Expires, err = integer(d)
		default:
			err = d.Skip()
		}
		return err
	})
	if err != nil {
		return e, fmt.Errorf("feed: entry: %w", err)
	}
	kind := waxseal.RevocationKind(e.Kind)
	switch kind {
	case waxseal.RevokeToken, waxseal.RevokeSession, waxseal.RevokeKey, waxseal.RevokeSubject:
	default:
		return e, fmt.Errorf("feed: entry %d: unknown kind %q", e.Cursor, e.Kind)
	}
	if e.Cursor <= 0 || e.Expires <= 0 {
		return e, fmt.Errorf("feed: entry %d: missing cursor or expires", e.Cursor)
	}
	if kind.Digested() {
		if e.Value != "" || !isDigest(e.Digest) {
			return e, fmt.Errorf("feed: entry %d: a %s entry needs a digest and no value", e.Cursor, e.Kind)
		}
	} else if e.Value == "" || e.Digest != "" {
		return e, fmt.Errorf("feed: entry %d: a %s entry needs a value and no digest", e.Cursor, e.Kind)
	}
	if e.Kind == string(waxseal.RevokeSubject) && e.NotBefore <= 0 {
		return e, fmt.Errorf("feed: entry %d: subject revocation without not_before", e.Cursor)
	}
	return e, nil
}

// ParsePage reads a page strictly.
func ParsePage(data []byte) (*Page, error) {
	d := strictjson.NewDecoder(data)
	p := &Page{Revocations: []Entry{}}
	sawCursor := false
	err := d.Document(func(name []byte) error {
		var err error
		switch string(name) {
		case "revocations":
			err = d.Array(func() error {
				e, err := parseEntry(d)
				p.Revocations = append(p.Revocations, e)
				return err
			})
		case "cursor":
			sawCursor = true
			p.Cursor, err = integer(d)
		case "more":
			p.More, err = d.Bool()
		default:
			err = d.Skip()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("feed: page: %w", err)
	}
	if !sawCursor {
		return nil, errors.New("feed: page: no cursor")
	}
	for i, e := range p.Revocations {
		if (i > 0 && e.Cursor <= p.Revocations[i-1].Cursor) || e.Cursor > p.Cursor {
			return nil, errors.New("feed: page: cursors out of order")
		}
	}
	return p, nil
}

func integer(d *strictjson.Decoder) (int64, error) {
	f, err := d.Number()
	if err != nil {
		return 0, err
	}
	if f != float64(int64(f)) || f < 0 || f > 1<<53 {
		return 0, fmt.Errorf("not a non-negative integer: %v", f)
	}
	return int64(f), nil
}

// Marshal returns e as one line of JSON, the data of an SSE event.
func (e Entry) Marshal() []byte {
	b, _ := json.Marshal(e) // a struct of strings and integers cannot fail
	return b
}

// isDigest reports whether s is an unpadded base64url SHA-256 digest.
func isDigest(s string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

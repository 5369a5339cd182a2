package guard_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/waxseal/waxseal/guard"
)

// TestQueryTokenRefusedHoweverEncoded sends a token in the query string under
// every spelling of "access_token" that some server or framework behind the
// guard decodes to that name (percent-encoding, case, PHP's '.' and ' ' to
// '_', ';' as a separator, array syntax) and checks that each is refused, with
// or without a header, while names that merely resemble it pass.
func TestQueryTokenRefusedHoweverEncoded(t *testing.T) {
	for _, tc := range []struct {
		query   string
		refused bool
	}{
		{"access_token=x", true},
		{"access%5Ftoken=x", true},
		{"access%5ftoken=x", true},
		{"%61ccess_token=x", true},
		{"%61%63%63%65%73%73%5F%74%6F%6B%65%6E=x", true},
		{"ACCESS_TOKEN=x", true},
		{"Access_Token=x", true},
		{"access.token=x", true},
		{"access+token=x", true},
		{"access%20token=x", true},
		{"access-token=x", true},
		{"access_token[]=x", true},
		{"access_token[0]=x", true},
		{"a=1;access_token=x", true},
		{"a=1&access_token", true},
		{"a=%zz&access_token=x", true},
		{"access_token%zz=x", false},
		{"sort=asc&page=2", false},
		{"token=x", false},
		{"my_access_token_count=3", false},
		{"access_tokens=x", false},
		{"q=access_token", false},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/notes", nil)
		r.URL.RawQuery = tc.query
		_, err := guard.BearerToken(r)
		if got := errors.Is(err, guard.ErrBadRequest); got != tc.refused {
			t.Errorf("?%s: refused = %v (%v), want %v", tc.query, got, err, tc.refused)
		}
		r.Header.Set("Authorization", "Bearer abc")
		_, err = guard.BearerToken(r)
		if got := errors.Is(err, guard.ErrBadRequest); got != tc.refused {
			t.Errorf("?%s with a header: refused = %v (%v), want %v", tc.query, got, err, tc.refused)
		}
	}
}

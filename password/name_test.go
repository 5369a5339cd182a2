package password

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"admin", "admin"},
		{"Admin", "admin"},
		{"ADMIN", "admin"},
		{"ａｄｍｉｎ", "admin"},             // full width
		{" admin ", "admin"},           // surrounding spaces
		{"\u3000admin\u00a0", "admin"}, // Unicode spaces
		{"ﬁnn", "finn"},                // ligature
		{"Straße", "strasse"},          // full case folding
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},         // final sigma folds like any sigma
		{"Jane.Doe_1-2+x@Example.com", "jane.doe_1-2+x@example.com"},
		{"e\u0301mile", "émile"}, // composed
		{"Ångström", "ångström"},
		{"名前", "名前"},
		{"user²", "user2"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		got, err := CanonicalName(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalNameRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"\u3000",
		strings.Repeat("a", 65),
		"ad\xffmin",
		"ad\x00min",
		"admin\n",
		"\tadmin",
		"ad\u200bmin", // zero-width space
		"ad\u202emin", // right-to-left override
		"john smith",
		"admin/..",
		"<script>",
		"a'b",
		"a\"b",
		"a;b",
		"a:b",
		"a%20b",
		"\u0301admin", // leading combining mark
		"😀",
		"abcאבג", // mixes directions
	} {
		if got, err := CanonicalName(in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CanonicalName(%q) = %q, %v; want ErrInvalidName", in, got, err)
		}
	}
}

// FuzzCanonicalName checks that a canonical name is its own canonical name,
// so a name read back from storage looks up the same account.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"Admin", "ａｄｍｉｎ", " admin ", "Straße", "ΣΊΣΥΦΟΣ", "ﬁnn", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalName(s)
		if err != nil {
			return
		}
		again, err := CanonicalName(c)
		if err != nil || again != c {
			t.Fatalf("CanonicalName(%q) = %q, but CanonicalName(%q) = %q, %v", s, c, c, again, err)
		}
	})
}

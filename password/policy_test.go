package password

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestNormalizePassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain ascii", "plain ascii"},
		{"ﬁne", "fine"},                                // ligature
		{"ＰＡＳＳ１２３", "PASS123"},                         // full width
		{"no\u00a0break\u3000space", "no break space"}, // Unicode spaces become U+0020
		{"e\u0301", "é"},                               // combining accent composes
		{"x²", "x2"},                                   // superscript
		{"Case Kept", "Case Kept"},                     // no case folding: case is entropy
		{"😀 emoji", "😀 emoji"},
	}
	for _, tt := range tests {
		got, err := NormalizePassword(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePassword(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := NormalizePassword("bad\xffutf8"); err == nil {
		t.Error("NormalizePassword(invalid UTF-8) succeeded")
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"14 characters", "tuba-lichen-ox", false},
		{"15 characters", "tuba-lichen-oxe", true},
		{"14 and an emoji", "tuba-lichen-ox😀", true},
		{"13 and an emoji", "tuba-lichen-o😀", false},
		{"combining mark composes before counting", "tuba-lichen-oe\u0301", false},
		{"length after NFKC: ligature is two", "tuba-lichen-oﬁ", true},
		{"long passphrase", "the quick brown lemur sells forty ripe tangerines on tuesday", true},
		{"256 characters", strings.Repeat("abcdefgh", 31) + "ijklmnop", true},
		{"257 characters", strings.Repeat("abcdefgh", 32) + "q", false},
		{"spaces and symbols allowed", "  ~!@#$ %^&*() {}|:\"<>? ", true},
		{"no composition rules", "plainlowercaseletters", true},
		{"control character", "tuba-lichen-ox\x00e", false},
		{"newline", "tuba-lichen-ox\ne", false},
		{"invalid UTF-8", "tuba-lichen-ox\xffe", false},
		{"one character repeated", "aaaaaaaaaaaaaaa", false},
		{"spaced repetition", "aaaa aaaa aaaa aaaa", false},
		{"symbol repeated", "!!!!!!!!!!!!!!!", false},
		{"short pattern repeated", "abcabcabcabcabc", false},
		{"word repeated", "sunshinesunshine", false},
		{"letters in order", "abcdefghijklmnop", false},
		{"digits in order, wrapping", "123456789012345", false},
		{"digits descending", "987654321098765", false},
		{"random digits", "830571964213857", true},
		{"blocklisted", "correcthorsebatterystaple", false},
		{"blocklisted, case and spaces", "Correct Horse Battery Staple", false},
		{"blocklisted, full width", "ｃｏｒｒｅｃｔｈｏｒｓｅｂａｔｔｅｒｙｓｔａｐｌｅ", false},
		{"blocklisted word with digits appended", "Password1234567!", false},
		{"blocklisted word with prefix", "2024!!sunshine!!", false},
		{"blocklisted with substitutions", "P@ssw0rd20242025", false},
		{"blocklisted keyboard walk", "qwertyuiopasdfghjkl", false},
		{"blocklisted word inside a phrase", "my sunshine is a tangerine", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			if tt.ok && err != nil {
				t.Errorf("CheckPassword(%q) = %v, want nil", tt.password, err)
			}
			if !tt.ok && !errors.Is(err, ErrWeakPassword) {
				t.Errorf("CheckPassword(%q) = %v, want ErrWeakPassword", tt.password, err)
			}
		})
	}
}

func TestCheckPasswordUserName(t *testing.T) {
	tests := []struct {
		password, name string
		ok             bool
	}{
		{"johnsmith123456", "johnsmith", false},
		{"JohnSmith!!2024#", "johnsmith", false},
		{"john.smith.2024.", "john.smith", false},
		{"johnsmithjohnsmith", "johnsmith", false},
		{"johnsmith-password", "johnsmith", false},
		{"ｊｏｈｎｓｍｉｔｈ123456", "JohnSmith", false},
		{"johnsmith likes tangerines", "johnsmith", true},
		{"johnsmith123456", "alice", true},
		{"830571964213857", "bob", true},
	}
	for _, tt := range tests {
		err := DefaultPolicy.Check(tt.password, tt.name)
		if tt.ok && err != nil {
			t.Errorf("Check(%q, %q) = %v, want nil", tt.password, tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrWeakPassword) {
			t.Errorf("Check(%q, %q) = %v, want ErrWeakPassword", tt.password, tt.name, err)
		}
	}
}

func TestPolicyLengths(t *testing.T) {
	tests := []struct {
		policy   Policy
		password string
		ok       bool
	}{
		{Policy{}, "tuba-lichen-ox", false}, // zero means the defaults
		{Policy{}, "tuba-lichen-oxe", true},
		{Policy{MinLength: 8}, "tuba-lic", true},
		{Policy{MinLength: 8}, "tuba-li", false},
		{Policy{MinLength: 4}, "tuba-li", false}, // never below 8
		{Policy{MaxLength: 20}, "tuba-lichen-oxen-yak", true},
		{Policy{MaxLength: 20}, "tuba-lichen-oxen-yaks", false},
	}
	for _, tt := range tests {
		err := tt.policy.Check(tt.password, "")
		if (err == nil) != tt.ok {
			t.Errorf("%+v.Check(%q) = %v, want ok %v", tt.policy, tt.password, err, tt.ok)
		}
	}
}

func TestPolicyMessage(t *testing.T) {
	err := CheckPassword("too short")
	if err == nil || !strings.Contains(err.Error(), "shorter than 15 characters") {
		t.Errorf("CheckPassword(short) = %v, want a message naming the minimum", err)
	}
}

// The blocklist file must hold what blocked looks up: letters and digits,
// case-folded, no shorter than 8, each once.
func TestBlocklistFile(t *testing.T) {
	seen := map[string]bool{}
	for line := range strings.Lines(blocklistText) {
		w := strings.TrimSpace(line)
		if w == "" || strings.HasPrefix(w, "#") {
			continue
		}
		if c := utf8.RuneCountInString(w); c < 8 {
			t.Errorf("blocklist entry %q: %d characters, want at least 8", w, c)
		}
		if f := cases.Fold().String(norm.NFKC.String(w)); f != w {
			t.Errorf("blocklist entry %q is not case-folded NFKC (%q)", w, f)
		}
		if strings.IndexFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
			t.Errorf("blocklist entry %q has a character other than a letter or digit", w)
		}
		if seen[w] {
			t.Errorf("blocklist entry %q appears twice", w)
		}
		seen[w] = true
	}
	if len(seen) < 300 {
		t.Errorf("blocklist has %d entries, want a few hundred", len(seen))
	}
	if len(blocklist()) != len(seen) {
		t.Errorf("loaded %d entries, file has %d", len(blocklist()), len(seen))
	}
}

package password

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ErrWeakPassword is the error every rejected new password wraps; the
// wrapped message says why, in words a user can act on.
var ErrWeakPassword = errors.New("password: not accepted")

// NormalizePassword returns the form of s that is hashed: NFKC, as NIST SP
// 800-63B-4 recommends, so that one password typed on different keyboards or
// input methods ("ﬁ" and "fi", full-width and ASCII letters, a no-break and
// an ordinary space) is one password. RFC 8265's OpaqueString profile uses
// NFC, which keeps those apart; the few bits NFKC costs are worth fewer
// locked-out users. Hash and Verify call it themselves.
func NormalizePassword(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("password: not valid UTF-8")
	}
	return norm.NFKC.String(s), nil
}

// Policy decides which new passwords to accept, after NIST SP 800-63B-4: a
// length floor, no composition rules (every printable character and space is
// allowed), and a blocklist of passwords attackers try first. It is applied
// when a password is set, never at login, so tightening it locks no one out.
type Policy struct {
	// MinLength in code points after normalization. Zero means 15, the
	// guideline's minimum when a password is the only factor; values below
	// 8, its minimum with a second factor, count as 8.
	MinLength int

	// MaxLength in code points after normalization. Zero means 256. The
	// guideline asks for at least 64; passphrases of several words, in
	// scripts that need several code points a letter, outgrow that. Argon2
	// costs the same for any length, so the limit only bounds the work of
	// normalizing and the size of a request.
	MaxLength int
}

// DefaultPolicy is the policy for accounts whose only factor is a password.
var DefaultPolicy = Policy{MinLength: 15, MaxLength: 256}

// CheckPassword applies DefaultPolicy to a new password.
func CheckPassword(s string) error { return DefaultPolicy.Check(s, "") }

// Check returns nil if p accepts password as the new password of the user
// called name, or an error wrapping ErrWeakPassword that says why not. Name
// may be empty; when given, passwords that are the name with a few digits or
// symbols around it are rejected, since they are the first an attacker who
// targets that user tries.
func (p Policy) Check(password, name string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen == 0 {
		minLen = DefaultPolicy.MinLength
	}
	minLen = max(minLen, 8)
	if maxLen == 0 {
		maxLen = DefaultPolicy.MaxLength
	}
	pw, err := NormalizePassword(password)
	if err != nil {
		return fmt.Errorf("%w: not valid UTF-8", ErrWeakPassword)
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: contains a control character", ErrWeakPassword)
		}
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < minLen:
		return fmt.Errorf("%w: shorter than %d characters", ErrWeakPassword, minLen)
	case n > maxLen:
		return fmt.Errorf("%w: longer than %d characters", ErrWeakPassword, maxLen)
	}

	folded := cases.Fold().String(pw)
	if r, sq := []rune(folded), []rune(squash(folded)); periodic(r) || sequential(r) || periodic(sq) || sequential(sq) {
		return fmt.Errorf("%w: repeats characters or runs through a sequence", ErrWeakPassword)
	}
	if blocked(folded) {
		return fmt.Errorf("%w: is a commonly used password", ErrWeakPassword)
	}
	if name != "" {
		fn := squash(cases.Fold().String(norm.NFKC.String(name)))
		sp := squash(folded)
		if fn != "" && strings.Contains(sp, fn) {
			rest := trimAffixes(strings.ReplaceAll(sp, fn, ""))
			if r := []rune(rest); len(r) == 0 || periodic(r) || sequential(r) || blocked(rest) {
				return fmt.Errorf("%w: is based on the user name", ErrWeakPassword)
			}
		}
	}
	return nil
}

//go:embed blocklist.txt
var blocklistText string

// blocklist holds the entries of blocklist.txt, each letters and digits only,
// case-folded.
var blocklist = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	for line := range strings.Lines(blocklistText) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[squash(cases.Fold().String(norm.NFKC.String(line)))] = true
	}
	return m
})

// blocked reports whether the case-folded password is on the blocklist once
// spaces and symbols are dropped ("correct horse battery staple"), once the
// digits and symbols people append or prepend are trimmed ("Sunshine2024!"),
// or once the commonest letter substitutions are undone ("p@ssw0rd").
func blocked(folded string) bool {
	list := blocklist()
	core := trimAffixes(folded)
	return list[squash(folded)] || list[squash(core)] || list[squash(unleet(core))]
}

// squash drops everything but letters and digits.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// trimAffixes drops everything but letters from both ends.
func trimAffixes(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

var leet = strings.NewReplacer("@", "a", "4", "a", "3", "e", "1", "i", "!", "i", "0", "o", "$", "s", "5", "s", "7", "t")

func unleet(s string) string { return leet.Replace(s) }

// periodic reports whether r is a shorter string repeated at least twice
// ("aaaaaaaa", "abcabcabc", "passwordpassword").
func periodic(r []rune) bool {
	if len(r) < 2 {
		return false
	}
next:
	for period := 1; period <= len(r)/2; period++ {
		for i := period; i < len(r); i++ {
			if r[i] != r[i-period] {
				continue next
			}
		}
		return true
	}
	return false
}

// sequential reports whether r counts up or down one step at a time
// ("abcdefgh", "987654321"); digits wrap, so "1234567890123" counts too.
func sequential(r []rune) bool {
	if len(r) < 3 {
		return false
	}
	step := func(a, b rune) rune {
		if isASCIIDigit(a) && isASCIIDigit(b) {
			switch (b - a + 10) % 10 {
			case 1:
				return 1
			case 9:
				return -1
			}
			return 0
		}
		return b - a
	}
	d := step(r[0], r[1])
	if d != 1 && d != -1 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if step(r[i-1], r[i]) != d {
			return false
		}
	}
	return true
}

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }

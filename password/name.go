package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalidName is the error every rejected user name wraps; the wrapped
// message says why, in words a user can act on.
var ErrInvalidName = errors.New("password: invalid user name")

// maxNameLen is in code points of the canonical name.
const maxNameLen = 64

// IDLen is the length of a user ID: 128 random bits in unpadded base64url.
const IDLen = 22

// HasIDForm reports whether s has the form of a user ID, in any case: IDLen
// characters of the base64url alphabet. CanonicalName refuses such names,
// so that names and IDs are disjoint and a command given an ID can never
// reach an account named like it.
func HasIDForm(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CanonicalName returns the one spelling of a user name under which it is
// stored and looked up, so that "Admin", "ａｄｍｉｎ" (full width) and " admin "
// are one account, and no one can register a second account that looks like
// an existing one in those ways.
//
// It follows RFC 8265's UsernameCaseMapped profile with two departures. It
// maps with NFKC rather than only width-mapping and NFC, which also folds
// ligatures, superscripts and other compatibility forms into one name. And it
// allows only letters, combining marks after a letter, digits and . _ - @ +,
// where the profile allows all printable ASCII: the names appear in logs,
// URLs and claims, and punctuation there is an invitation to injection.
// Names from different scripts that look alike (Latin "a", Cyrillic "а") stay
// distinct; a deployment that fears that should allow only ASCII names.
func CanonicalName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	n := norm.NFKC.String(s)
	// Case folding can leave a string that is not in NFKC; normalize again
	// so the result is a fixed point.
	n = norm.NFKC.String(cases.Fold().String(n))
	// NFKC has turned every Unicode space into U+0020, so this trims them all.
	n = strings.Trim(n, " ")
	if n == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if c := utf8.RuneCountInString(n); c > maxNameLen {
		return "", fmt.Errorf("%w: %d characters, more than %d", ErrInvalidName, c, maxNameLen)
	}
	for i, r := range n {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: contains control character %U", ErrInvalidName, r)
		case unicode.IsLetter(r), unicode.Is(unicode.Nd, r), strings.ContainsRune("._-@+", r):
		case i > 0 && unicode.In(r, unicode.Mn, unicode.Mc):
		default:
			return "", fmt.Errorf("%w: character %q is not allowed", ErrInvalidName, r)
		}
	}
	if HasIDForm(n) {
		return "", fmt.Errorf("%w: 22 letters, digits, - or _ is the form of a user ID; add a character such as '.'", ErrInvalidName)
	}
	// RFC 8265 requires RFC 5893's Bidi Rule, so that a name that mixes
	// right-to-left and left-to-right text displays one way only.
	if !bidirule.ValidString(n) {
		return "", fmt.Errorf("%w: mixes text directions", ErrInvalidName)
	}
	return n, nil
}

package guard

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Reasons a request carries no usable bearer token (RFC 6750 §2.1, §3.1).
var (
	// ErrNoToken: the request has no Authorization header, or one with
	// another scheme. RFC 6750 says to answer without an error code.
	ErrNoToken = errors.New("guard: no bearer token")
	// ErrBadRequest: the Authorization header is malformed or given twice.
	ErrBadRequest = errors.New("guard: malformed Authorization header")
)

// BearerToken returns the bearer token of r. Only the Authorization header
// is read: a token in the query string or a form body is never used, and a
// cookie never counts, so a browser cannot be made to send a token it was
// not told to send (no CSRF).
func BearerToken(r *http.Request) (string, error) {
	// A token in the query string leaks into logs and Referer headers; it
	// is refused outright, alone or beside a header (RFC 6750 §2.3, §3.1).
	if r.URL.RawQuery != "" && queryHasToken(r.URL.RawQuery) {
		return "", ErrBadRequest
	}
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", ErrNoToken
	case len(vals) > 1:
		return "", ErrBadRequest
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	if !ok || tok == "" || strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 {
		return "", ErrBadRequest
	}
	return tok, nil
}

// queryHasToken reports whether any parameter of the raw query q is named
// access_token as some server behind the guard could read it: after
// percent-decoding and '+' as a space, in any case, with '.', ' ' or '-' for
// '_' (PHP and others rewrite those), with array brackets after it, and with
// ';' as well as '&' between parameters. Go's own parser agrees with none of
// these rewrites, which is why it is not asked. It allocates only for a name
// that needs decoding.
func queryHasToken(q string) bool {
	for q != "" {
		var seg string
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			seg, q = q[:i], q[i+1:]
		} else {
			seg, q = q, ""
		}
		name, _, _ := strings.Cut(seg, "=")
		if isTokenParam(name) {
			return true
		}
	}
	return false
}

const tokenParam = "access_token"

func isTokenParam(name string) bool {
	if len(name) < len(tokenParam) {
		return false // no encoding makes a name shorter
	}
	if strings.ContainsAny(name, "%+") {
		n, err := url.QueryUnescape(name)
		if err != nil {
			return false
		}
		name = n
	}
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if len(name) != len(tokenParam) {
		return false
	}
	for i := range len(name) {
		c := name[i]
		switch {
		case c == '.' || c == ' ' || c == '-':
			c = '_'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != tokenParam[i] {
			return false
		}
	}
	return true
}

// WriteError answers a request refused at the bearer check in the RFC 6750
// §3 shape: the status, a WWW-Authenticate challenge naming the error, and
// a JSON body with the same code. description must not quote the token.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	challenge := `Bearer realm="waxseal"`
	if code != "" {
		challenge += `, error="` + code + `"`
		if description != "" {
			challenge += `, error_description="` + strings.ReplaceAll(description, `"`, `'`) + `"`
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	bodyCode := code
	if bodyCode == "" {
		// RFC 6750 §3.1: no error code in the challenge when the request
		// simply had no credentials; the body still says what is missing.
		bodyCode, description = "missing_token", "a bearer token is required"
	}
	body := `{"error":"` + bodyCode + `"`
	if description != "" {
		body += `,"error_description":"` + jsonEscape(description) + `"`
	}
	w.Write([]byte(body + "}\n"))
}

func jsonEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(" ")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

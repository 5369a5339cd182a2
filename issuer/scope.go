package issuer

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/waxseal/waxseal"
)

// ScopeRule grants one API scope to users: to those holding one of Roles,
// or to every user when Roles is empty. Several rules for one scope add up.
type ScopeRule struct {
	Scope string
	Roles []string
}

// ParseScopeRule reads a rule in the form of serve's --scope flag: "SCOPE"
// grants it to every user, "SCOPE=ROLE" to the users with that role.
func ParseScopeRule(s string) (ScopeRule, error) {
	sc, role, hasRole := strings.Cut(s, "=")
	if !isScopeToken(sc) || sc == "" {
		return ScopeRule{}, fmt.Errorf("issuer: scope rule %q: %q is not a scope (RFC 6749 §3.3)", s, sc)
	}
	if !hasRole {
		return ScopeRule{Scope: sc}, nil
	}
	if role == "" || strings.ContainsAny(role, ", \t") {
		return ScopeRule{}, fmt.Errorf("issuer: scope rule %q: name one role after '=' (repeat the rule for more)", s)
	}
	return ScopeRule{Scope: sc, Roles: []string{role}}, nil
}

// scopePolicy maps each API scope to the roles that grant it; a nil slice
// grants it to every user.
type scopePolicy map[string][]string

func newScopePolicy(rules []ScopeRule) (scopePolicy, error) {
	p := scopePolicy{}
	for _, r := range rules {
		if r.Scope == "" || !isScopeToken(r.Scope) {
			return nil, fmt.Errorf("issuer: Config.Scopes: %q is not a scope", r.Scope)
		}
		roles, seen := p[r.Scope]
		switch {
		case len(r.Roles) == 0 || seen && roles == nil:
			p[r.Scope] = nil // every user
		default:
			p[r.Scope] = append(roles, r.Roles...)
		}
	}
	return p, nil
}

// known reports whether sc is a scope the issuer grants users at all.
func (p scopePolicy) known(sc string) bool {
	_, ok := p[sc]
	return ok || slices.Contains(OIDCScopes, sc)
}

// grants reports whether the policy gives sc to u: an OpenID Connect scope
// or an every-user scope always, another only through one of u's roles.
func (p scopePolicy) grants(u *waxseal.User, sc string) bool {
	if slices.Contains(OIDCScopes, sc) {
		return true
	}
	roles, ok := p[sc]
	if !ok {
		return false
	}
	if roles == nil {
		return true
	}
	for _, r := range u.Roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// check returns invalid_scope for the first scope of scope that the policy
// does not give u.
func (p scopePolicy) check(u *waxseal.User, scope string) error {
	for sc := range strings.FieldsSeq(scope) {
		if !p.grants(u, sc) {
			return &oauthError{Status: 400, Code: "invalid_scope", Description: "scope " + sc + " is not granted to this account"}
		}
	}
	return nil
}

// filter keeps the scopes of scope that the policy still gives u: a
// session's scope shrinks when its user loses a role.
func (p scopePolicy) filter(u *waxseal.User, scope string) string {
	var out []string
	for sc := range strings.FieldsSeq(scope) {
		if p.grants(u, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " ")
}

// names lists the API scopes, for the metadata's scopes_supported.
func (p scopePolicy) names() []string {
	out := make([]string, 0, len(p))
	for sc := range p {
		out = append(out, sc)
	}
	sort.Strings(out)
	return out
}

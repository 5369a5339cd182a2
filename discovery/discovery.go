// Package discovery reads and describes OAuth 2.0 authorization server
// metadata (RFC 8414), which is how a verifier that knows only an issuer's
// URL finds the issuer's JWKS.
//
// Metadata decides which keys a verifier trusts, so it is read as strictly as
// a token: member names match exactly, a duplicate member is an error, the
// document must name the issuer it was fetched for, and every URL in play must
// use https unless it points at the local machine.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/waxseal/waxseal/internal/strictjson"
)

// Metadata is the part of RFC 8414 authorization server metadata that
// waxseal uses, plus its own revocation_feed_endpoint. It marshals with
// encoding/json; empty members are omitted, as RFC 8414 §3.2 asks.
type Metadata struct {
	Issuer                                    string   `json:"issuer"`
	TokenEndpoint                             string   `json:"token_endpoint,omitempty"`
	JWKSURI                                   string   `json:"jwks_uri,omitempty"`
	RevocationEndpoint                        string   `json:"revocation_endpoint,omitempty"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint,omitempty"`
	UserinfoEndpoint                          string   `json:"userinfo_endpoint,omitempty"`
	GrantTypesSupported                       []string `json:"grant_types_supported,omitempty"`
	ResponseTypesSupported                    []string `json:"response_types_supported,omitempty"`
	ScopesSupported                           []string `json:"scopes_supported,omitempty"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported             []string `json:"code_challenge_methods_supported,omitempty"`

	// OpenID Connect Discovery 1.0 §3 and RP-Initiated Logout 1.0 §2.1.
	AuthorizationEndpoint            string   `json:"authorization_endpoint,omitempty"`
	EndSessionEndpoint               string   `json:"end_session_endpoint,omitempty"`
	ResponseModesSupported           []string `json:"response_modes_supported,omitempty"`
	SubjectTypesSupported            []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ClaimsSupported                  []string `json:"claims_supported,omitempty"`
	PromptValuesSupported            []string `json:"prompt_values_supported,omitempty"`
	// AuthorizationResponseIssParameterSupported says that authorization
	// responses carry "iss" (RFC 9207), so a client can tell which issuer
	// answered and mix-up attacks fail. Not read by Fetch.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`

	// RevocationFeedEndpoint is waxseal's own member: where verifiers poll
	// for revoked token IDs.
	RevocationFeedEndpoint string `json:"revocation_feed_endpoint,omitempty"`
}

// wellKnownPath is the suffix registered by RFC 8414 §7.3.
const wellKnownPath = "/.well-known/oauth-authorization-server"

// maxMetadataSize bounds the metadata document read from the network. Real
// documents are a few kilobytes.
const maxMetadataSize = 1 << 20

// defaultClient is used when Fetch is given no client. Unlike
// http.DefaultClient it has a timeout, so a stalled issuer cannot hang a
// caller whose context never ends.
var defaultClient = &http.Client{Timeout: 10 * time.Second}

// WellKnownURL returns the URL of issuer's metadata. As RFC 8414 §3.1 says
// (and unlike OpenID Connect discovery), the well-known segment goes between
// the host and the issuer's path, after a trailing "/" is removed:
// https://h/tenant becomes https://h/.well-known/oauth-authorization-server/tenant.
//
// The issuer must be an absolute http or https URL without query, fragment
// or user information. RFC 8414 §2 forbids query and fragment; credentials
// are refused because the issuer is copied into every token's "iss".
func WellKnownURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("discovery: issuer: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("discovery: issuer %q is not an http or https URL", issuer)
	case u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("discovery: issuer %q has no host", issuer)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("discovery: issuer %q has a query", issuer)
	case strings.Contains(issuer, "#"):
		return "", fmt.Errorf("discovery: issuer %q has a fragment", issuer)
	case u.User != nil:
		return "", fmt.Errorf("discovery: issuer %q has user information", issuer)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + wellKnownPath + path, nil
}

// CheckURL reports an error unless u is an absolute https URL, or an http URL
// whose host is a loopback address or "localhost", or any http URL when
// insecureAllowHTTP is set. Keys fetched over plain http from another machine
// can be replaced by anyone on the path, and with them every token.
func CheckURL(u string, insecureAllowHTTP bool) error {
	if err := checkURL(u, insecureAllowHTTP); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	return nil
}

func checkURL(u string, insecureAllowHTTP bool) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	if p.Host == "" || p.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL", u)
	}
	switch p.Scheme {
	case "https":
		return nil
	case "http":
		if insecureAllowHTTP || isLoopback(p.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https", u)
	}
	return fmt.Errorf("%q is not an http or https URL", u)
}

// isLoopback reports whether host names the local machine: "localhost", an
// address in 127.0.0.0/8, or ::1. Other names are not resolved: what they
// resolve to can change.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Options changes how Fetch checks what it reads.
type Options struct {
	// InsecureAllowHTTP accepts plain http URLs for the issuer and its
	// jwks_uri on any host, not only on the local machine. Anyone on the
	// network path can then choose the keys a verifier trusts.
	InsecureAllowHTTP bool
}

// Fetch reads the metadata of issuer from its well-known URL. A nil client
// means a client with a 10 second timeout.
//
// The document's "issuer" must equal issuer exactly (RFC 8414 §3.3), so one
// issuer cannot speak for another, and "jwks_uri" must be present and pass
// CheckURL. RFC 8414 also requires response_types_supported, but a verifier
// has no use for it, so Fetch does not insist on it. Members Fetch does not
// know are skipped; known members of the wrong type are an error.
func Fetch(ctx context.Context, client *http.Client, issuer string, opt Options) (*Metadata, error) {
	wk, err := WellKnownURL(issuer)
	if err != nil {
		return nil, err
	}
	if err := checkURL(issuer, opt.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("discovery: issuer: %w", err)
	}
	if client == nil {
		client = defaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wk, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: fetching metadata: %w", err)
	}
	defer resp.Body.Close()
	// A redirect must not lead from https to plain http.
	if err := checkURL(resp.Request.URL.String(), opt.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("discovery: metadata redirected: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: fetching %s: %s", wk, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("discovery: reading metadata: %w", err)
	}
	if len(body) > maxMetadataSize {
		return nil, fmt.Errorf("discovery: metadata from %s is larger than %d bytes", wk, maxMetadataSize)
	}
	m, err := parse(body)
	if err != nil {
		return nil, err
	}
	if m.Issuer != issuer {
		return nil, fmt.Errorf("discovery: metadata from %s is for issuer %q, not %q", wk, m.Issuer, issuer)
	}
	if m.JWKSURI == "" {
		return nil, errors.New("discovery: metadata has no jwks_uri")
	}
	if err := checkURL(m.JWKSURI, opt.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return m, nil
}

// parse reads a metadata document strictly. An empty array reads as an
// absent member: RFC 8414 §3.2 says such members are omitted.
func parse(data []byte) (*Metadata, error) {
	m := &Metadata{}
	d := strictjson.NewDecoder(data)
	err := d.Document(func(name []byte) error {
		s, list := m.member(string(name))
		switch {
		case s != nil:
			v, err := d.String()
			*s = v
			return err
		case list != nil:
			v, err := d.StringArray()
			if len(v) > 0 {
				*list = v
			}
			return err
		}
		return d.Skip()
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: parsing metadata: %w", err)
	}
	return m, nil
}

// member returns the field for the member called name: a string, a list of
// strings, or neither for a member waxseal does not use. The names must match
// the json tags of Metadata.
func (m *Metadata) member(name string) (*string, *[]string) {
	switch name {
	case "issuer":
		return &m.Issuer, nil
	case "token_endpoint":
		return &m.TokenEndpoint, nil
	case "jwks_uri":
		return &m.JWKSURI, nil
	case "revocation_endpoint":
		return &m.RevocationEndpoint, nil
	case "introspection_endpoint":
		return &m.IntrospectionEndpoint, nil
	case "userinfo_endpoint":
		return &m.UserinfoEndpoint, nil
	case "revocation_feed_endpoint":
		return &m.RevocationFeedEndpoint, nil
	case "grant_types_supported":
		return nil, &m.GrantTypesSupported
	case "response_types_supported":
		return nil, &m.ResponseTypesSupported
	case "scopes_supported":
		return nil, &m.ScopesSupported
	case "token_endpoint_auth_methods_supported":
		return nil, &m.TokenEndpointAuthMethodsSupported
	case "revocation_endpoint_auth_methods_supported":
		return nil, &m.RevocationEndpointAuthMethodsSupported
	case "introspection_endpoint_auth_methods_supported":
		return nil, &m.IntrospectionEndpointAuthMethodsSupported
	case "code_challenge_methods_supported":
		return nil, &m.CodeChallengeMethodsSupported
	case "authorization_endpoint":
		return &m.AuthorizationEndpoint, nil
	case "end_session_endpoint":
		return &m.EndSessionEndpoint, nil
	case "response_modes_supported":
		return nil, &m.ResponseModesSupported
	case "subject_types_supported":
		return nil, &m.SubjectTypesSupported
	case "id_token_signing_alg_values_supported":
		return nil, &m.IDTokenSigningAlgValuesSupported
	case "claims_supported":
		return nil, &m.ClaimsSupported
	case "prompt_values_supported":
		return nil, &m.PromptValuesSupported
	}
	return nil, nil
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/token"
)

func runToken(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "token", args, io, map[string]func(context.Context, []string, IO) error{
		"decode": runTokenDecode,
		"verify": runTokenVerify,
	}, []string{"decode", "verify"})
}

// runTokenDecode shows a token's header and claims without checking
// anything but its syntax: a local jwt.io.
func runTokenDecode(_ context.Context, args []string, io IO) error {
	fs := newFlags("token decode", "JWT", io)
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	header, claims, err := token.DecodeUnverified(strings.TrimSpace(fs.Arg(0)))
	if err != nil {
		return err
	}
	fmt.Fprintln(io.Out, "UNVERIFIED: the signature and claims have not been checked.")
	fmt.Fprintln(io.Out, "Header:")
	if err := writeIndented(io, header); err != nil {
		return err
	}
	fmt.Fprintln(io.Out, "Claims:")
	if err := writeIndented(io, claims); err != nil {
		return err
	}
	for _, c := range []string{"exp", "iat", "nbf"} {
		if t, ok := numericDate(claims, c); ok {
			fmt.Fprintf(io.Out, "%s: %s\n", c, t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func writeIndented(io IO, data []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := io.Out.Write(b.Bytes())
	return err
}

func numericDate(claims []byte, name string) (time.Time, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(claims, &m) != nil {
		return time.Time{}, false
	}
	var f float64
	if raw, ok := m[name]; !ok || json.Unmarshal(raw, &f) != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func runTokenVerify(ctx context.Context, args []string, io IO) error {
	fs := newFlags("token verify", "JWT", io)
	issuer := fs.String("issuer", "", "the issuer URL the token must name (required)")
	audience := fs.String("audience", "", "the audience the token must name; without it the audience is not checked")
	jwksFile := fs.String("jwks-file", "", "take keys from this JWKS file instead of the issuer's jwks_uri")
	insecureHTTP := fs.Bool("insecure-allow-http", false, "allow fetching metadata and keys over plain HTTP from a host that is not loopback")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if *issuer == "" {
		fs.Usage()
		return errUsage
	}
	var keys token.KeySource
	if *jwksFile != "" {
		s, err := keyset.LoadFile(*jwksFile)
		if err != nil {
			return err
		}
		keys = s
	} else {
		r, err := keyset.NewRemote(ctx, keyset.RemoteConfig{Issuer: *issuer, InsecureAllowHTTP: *insecureHTTP})
		if err != nil {
			return err
		}
		defer r.Close()
		keys = r
	}
	v, err := token.NewVerifier(keys, token.Config{
		Issuer:                    *issuer,
		Audience:                  *audience,
		InsecureSkipAudienceCheck: *audience == "",
		CacheSize:                 -1,
	})
	if err != nil {
		return err
	}
	c, err := v.Verify(ctx, strings.TrimSpace(fs.Arg(0)))
	if err != nil {
		return fmt.Errorf("token is not valid: %w", err)
	}
	if *audience == "" {
		fmt.Fprintln(io.Err, "warning: no --audience given; the audience was not checked")
	}
	out, err := json.MarshalIndent(claimsView(c), "", "  ")
	if err != nil {
		return errors.Join(errors.New("encoding claims"), err)
	}
	fmt.Fprintf(io.Out, "VALID: signed by key %s\n%s\n", c.KeyID, out)
	return nil
}

// claimsView is the JSON shape of verified claims, with readable times.
func claimsView(c *token.Claims) any {
	v := struct {
		Issuer    string    `json:"iss"`
		Subject   string    `json:"sub"`
		Audience  []string  `json:"aud"`
		Expiry    time.Time `json:"exp"`
		IssuedAt  time.Time `json:"iat"`
		NotBefore time.Time `json:"nbf,omitzero"`
		ID        string    `json:"jti"`
		ClientID  string    `json:"client_id,omitempty"`
		SessionID string    `json:"sid,omitempty"`
		Scope     string    `json:"scope,omitempty"`
		Roles     []string  `json:"roles,omitempty"`
	}{c.Issuer, c.Subject, c.Audience, c.Expiry.UTC(), c.IssuedAt.UTC(), c.NotBefore.UTC(), c.ID, c.ClientID, c.SessionID, c.Scope, c.Roles}
	return v
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/token"
)

func runToken(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "token", args, io, []command{
		{"decode", "print a token's header and claims, unverified", runTokenDecode},
		{"verify", "verify a token against an issuer's keys and revocation feed", runTokenVerify},
	})
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
	issuerURL := fs.String("issuer", "", "the issuer URL the token must name (required)")
	audience := fs.String("audience", "", "the audience the token must name; without it the audience is not checked")
	jwksFile := fs.String("jwks-file", "", "take keys from this JWKS file instead of the issuer's jwks_uri; revocation is then not checked")
	insecureHTTP := fs.Bool("insecure-allow-http", false, "allow fetching metadata, keys and revocations over plain HTTP from a host that is not loopback")
	timeout := &durationFlag{d: 10 * time.Second}
	fs.Var(timeout, "timeout", "how long to wait for the issuer's keys and the revocation feed's catch-up")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if *issuerURL == "" {
		return usageError(fs, "--issuer is required")
	}
	raw := strings.TrimSpace(fs.Arg(0))
	aud := *audience
	if aud == "" {
		// Without --audience any audience the token names will do: check
		// against its own, and say so.
		var err error
		if aud, err = firstAudience(raw); err != nil {
			return fmt.Errorf("token is not valid: %w", err)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Err, &slog.HandlerOptions{Level: slog.LevelError}))
	gc := guard.Config{Issuer: *issuerURL, Audience: aud, InsecureAllowHTTP: *insecureHTTP, Logger: quiet}
	if *jwksFile != "" {
		s, err := keyset.LoadFile(*jwksFile)
		if err != nil {
			return err
		}
		gc.Keys, gc.InsecureNoRevocation = s, true
	}
	g, err := guard.New(ctx, gc)
	if err != nil {
		return err
	}
	defer g.Close()
	wait, cancel := context.WithTimeout(ctx, timeout.d)
	err = g.WaitReady(wait)
	cancel()
	if err != nil {
		return fmt.Errorf("nothing verified: within %v: %w", timeout.d, g.ReadyErr())
	}
	c, err := g.Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("token is not valid: %w", err)
	}
	checked := [][2]string{
		{"signature", "good, key " + c.KeyID + " from " + keySource(*jwksFile, *issuerURL)},
		{"type", "at+jwt"},
		{"issuer", c.Issuer},
		{"audience", "lists " + aud},
		{"expiry", "expires " + c.Expiry.UTC().Format(time.RFC3339)},
		{"revocation", fmt.Sprintf("not revoked (revocation feed caught up to cursor %d)", g.Stats().FeedCursor)},
	}
	if *audience == "" {
		checked[3][1] = "NOT CHECKED (no --audience)"
	}
	if *jwksFile != "" {
		checked[5][1] = "NOT CHECKED (keys from --jwks-file; no revocation feed)"
	}
	out, err := json.MarshalIndent(claimsView(c), "", "  ")
	if err != nil {
		return errors.Join(errors.New("encoding claims"), err)
	}
	fmt.Fprintf(io.Out, "VALID: signed by key %s\nChecked:\n", c.KeyID)
	for _, x := range checked {
		fmt.Fprintf(io.Out, "  %-11s %s\n", x[0], x[1])
	}
	fmt.Fprintf(io.Out, "Claims:\n%s\n", out)
	for _, x := range checked {
		if strings.HasPrefix(x[1], "NOT CHECKED") {
			fmt.Fprintf(io.Err, "warning: %s was not checked\n", x[0])
		}
	}
	return nil
}

func keySource(file, issuer string) string {
	if file != "" {
		return file
	}
	return "the JWKS of " + issuer
}

// firstAudience reads the first "aud" of a token, unverified.
func firstAudience(raw string) (string, error) {
	_, claims, err := token.DecodeUnverified(raw)
	if err != nil {
		return "", err
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return "", fmt.Errorf("%w: claims: %w", token.ErrMalformed, err)
	}
	var one string
	var many []string
	switch {
	case json.Unmarshal(c.Aud, &one) == nil && one != "":
		return one, nil
	case json.Unmarshal(c.Aud, &many) == nil && len(many) > 0 && many[0] != "":
		return many[0], nil
	}
	return "", fmt.Errorf("%w: the token has no aud", token.ErrAudience)
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

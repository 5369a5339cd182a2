package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
)

func runClient(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "client", args, io, []command{
		{"add", "register a client; prints its ID and secret once", runClientAdd},
		{"list", "list registered clients", runClientList},
		{"rotate-secret", "give a client a new secret; the old one works for --overlap", runClientRotate},
		{"delete", "delete a client and end its sessions", runClientDelete},
	})
}

func runClientAdd(ctx context.Context, args []string, io IO) error {
	var grants, scopes, roles, redirects, logoutRedirects listFlag
	var name, idAlg *string
	var asJSON, public *bool
	return withAccounts(ctx, "client add", "[CLIENT_ID]", -1, args, io, func(fs *flag.FlagSet) {
		fs.Var(&grants, "grant", "a grant type the client may use: authorization_code, refresh_token, client_credentials, password (repeatable; default: authorization_code and refresh_token with --redirect-uri, else client_credentials)")
		fs.Var(&scopes, "scope", "a scope the client may ask for (repeatable; default with authorization_code: openid, profile, email, offline_access)")
		fs.Var(&roles, "role", "a role in the client's client_credentials tokens (repeatable)")
		fs.Var(&redirects, "redirect-uri", "a redirect URI for the authorization code flow, matched exactly; http://127.0.0.1/... matches any port (repeatable)")
		fs.Var(&logoutRedirects, "post-logout-redirect-uri", "where the browser may go after logout, matched exactly (repeatable)")
		public = fs.Bool("public", false, "a public client (single-page or native app): no secret, PKCE only")
		idAlg = fs.String("id-token-alg", "RS256", "algorithm of the client's ID tokens: RS256, EdDSA or ES256")
		name = fs.String("name", "", "a human-readable name, shown on the login page")
		asJSON = fs.Bool("json", false, "print the client ID and secret as JSON")
	}, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		if fs.NArg() > 1 {
			return usageError(fs, "too many arguments")
		}
		c, secret, err := a.CreateClient(ctx, issuer.ClientSpec{
			ID: fs.Arg(0), Name: *name, GrantTypes: grants.vals, Scopes: scopes.vals, Roles: roles.vals,
			RedirectURIs: redirects.vals, PostLogoutRedirectURIs: logoutRedirects.vals, Public: *public, IDTokenAlg: *idAlg,
		})
		if err != nil {
			return err
		}
		if *asJSON {
			b, _ := json.Marshal(struct {
				ID     string `json:"client_id"`
				Secret string `json:"client_secret,omitempty"`
			}{c.ID, secret})
			fmt.Fprintf(io.Out, "%s\n", b)
		} else if c.Public {
			fmt.Fprintf(io.Out, "client_id:     %s\n", c.ID)
		} else {
			fmt.Fprintf(io.Out, "client_id:     %s\nclient_secret: %s\n", c.ID, secret)
		}
		if !c.Public {
			fmt.Fprintln(io.Err, "waxseal: the secret is shown only now; it is stored as a digest")
		}
		return nil
	})
}

func runClientList(ctx context.Context, args []string, io IO) error {
	var asJSON *bool
	return withAccounts(ctx, "client list", "", 0, args, io, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON")
	}, func(_ *flag.FlagSet, db dburl.DB, _ *issuer.Accounts) error {
		rows := []issuer.ClientView{}
		for after := ""; ; {
			page, err := db.ListClients(ctx, after, 500)
			if err != nil {
				return err
			}
			for _, c := range page {
				rows = append(rows, issuer.ViewClient(c))
				after = c.ID
			}
			if len(page) < 500 {
				break
			}
		}
		if *asJSON {
			return printJSON(io, rows)
		}
		tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tKIND\tGRANTS\tSCOPES\tROLES\tREDIRECT_URIS")
		for _, r := range rows {
			kind := "confidential"
			if r.Public {
				kind = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, kind, strings.Join(r.GrantTypes, ","), strings.Join(r.Scopes, ","),
				strings.Join(r.Roles, ","), strings.Join(r.RedirectURIs, " "))
		}
		return tw.Flush()
	})
}

func runClientRotate(ctx context.Context, args []string, io IO) error {
	overlap := &durationFlag{d: issuer.DefaultSecretOverlap}
	var asJSON *bool
	return withAccounts(ctx, "client rotate-secret", "CLIENT_ID", 1, args, io, func(fs *flag.FlagSet) {
		fs.Var(overlap, "overlap", "how long the old secret keeps working")
		asJSON = fs.Bool("json", false, "print the client ID and new secret as JSON")
	}, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		secret, err := a.RotateClientSecret(ctx, fs.Arg(0), overlap.d)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, map[string]string{"client_id": fs.Arg(0), "client_secret": secret})
		}
		fmt.Fprintf(io.Out, "client_secret: %s\n", secret)
		fmt.Fprintf(io.Err, "waxseal: the old secret works for %v more\n", overlap.d)
		return nil
	})
}

func runClientDelete(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "client delete", "CLIENT_ID", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		r, err := a.DeleteClient(ctx, fs.Arg(0))
		if err == nil {
			printRevocation(io, r)
		}
		return err
	})
}

func printJSON(io IO, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(io.Out, "%s\n", b)
	return err
}

package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/token"
)

func runUser(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "user", args, io, []command{
		{"add", "add a user; prints a generated password unless --password-stdin", runUserAdd},
		{"list", "list users", runUserList},
		{"disable", "disable a user: end every session, revoke every token", runUserDisable},
		{"enable", "enable a disabled user", runUserEnable},
		{"roles", "print a user's roles, or replace them", runUserRoles},
		{"passwd", "set a user's password, read from standard input; ends every session", runUserPasswd},
		{"sessions", "list a user's sessions", runUserSessions},
	})
}

// dbCommand is what a database command gets: its parsed flags, the
// database, and the account manager on it.
type dbCommand struct {
	fs   *flag.FlagSet
	df   dbFlags
	db   dburl.DB
	acct *issuer.Accounts
}

// revokingCommands write revocations or change keys, so they take
// --access-ttl: what they write must outlive the tokens it concerns.
var revokingCommands = map[string]bool{
	"user disable": true, "user passwd": true, "client delete": true,
	"revoke user": true, "revoke session": true, "revoke token": true,
}

// withDB parses the flags of a database command (extra adds its own),
// opens and migrates the existing database, and runs fn.
func withDB(ctx context.Context, name, argsUsage string, nargs int, args []string, io IO, extra func(*flag.FlagSet), fn func(dbCommand) error) error {
	fs := newFlags(name, argsUsage, io)
	var needs dbNeeds
	if strings.HasPrefix(name, "keys ") {
		needs |= needKeys
	}
	if revokingCommands[name] {
		needs |= needTTL
	}
	df := addDBFlags(fs, needs)
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args, nargs); err != nil {
		return err
	}
	db, err := df.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := df.accounts(db, io)
	if err != nil {
		return err
	}
	return fn(dbCommand{fs: fs, df: df, db: db, acct: a})
}

// withAccounts is withDB for commands that need the flags, the database
// and the account manager.
func withAccounts(ctx context.Context, name, argsUsage string, nargs int, args []string, io IO, extra func(*flag.FlagSet), fn func(*flag.FlagSet, dburl.DB, *issuer.Accounts) error) error {
	return withDB(ctx, name, argsUsage, nargs, args, io, extra, func(c dbCommand) error { return fn(c.fs, c.db, c.acct) })
}

func runUserAdd(ctx context.Context, args []string, io IO) error {
	var roles listFlag
	var fromStdin *bool
	return withAccounts(ctx, "user add", "NAME", 1, args, io, func(fs *flag.FlagSet) {
		fs.Var(&roles, "role", "a role of the user (repeatable)")
		fromStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input; without it a strong password is generated and printed")
	}, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		var pw string
		generated := !*fromStdin
		if *fromStdin {
			line, err := bufio.NewReader(io.In).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("no password on standard input")
			}
			pw = strings.TrimRight(line, "\r\n")
		} else {
			var b [18]byte
			rand.Read(b[:])
			pw = base64.RawURLEncoding.EncodeToString(b[:])
		}
		u, err := a.AddUser(ctx, fs.Arg(0), pw, roles.vals)
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Err, "waxseal: added user %s (id %s)\n", u.Name, u.ID)
		if generated {
			fmt.Fprintf(io.Out, "%s\n", pw)
		}
		return nil
	})
}

func runUserList(ctx context.Context, args []string, io IO) error {
	var asJSON *bool
	return withAccounts(ctx, "user list", "", 0, args, io, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON")
	}, func(_ *flag.FlagSet, db dburl.DB, _ *issuer.Accounts) error {
		type row struct {
			ID       string    `json:"id"`
			Name     string    `json:"name"`
			Roles    []string  `json:"roles"`
			Disabled bool      `json:"disabled"`
			Created  time.Time `json:"created"`
		}
		rows := []row{}
		for after := ""; ; {
			page, err := db.ListUsers(ctx, after, 500, "")
			if err != nil {
				return err
			}
			for _, u := range page {
				rows = append(rows, row{u.ID, u.Name, u.Roles, u.Disabled, u.Created.UTC()})
				after = u.Name
			}
			if len(page) < 500 {
				break
			}
		}
		if *asJSON {
			b, err := json.MarshalIndent(rows, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(io.Out, "%s\n", b)
			return err
		}
		tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tID\tROLES\tDISABLED\tCREATED")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", r.Name, r.ID, strings.Join(r.Roles, ","), r.Disabled, r.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	})
}

func runUserDisable(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "user disable", "NAME", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		u, err := a.FindUser(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if _, err := a.EndUser(ctx, u.ID, true, "user_disabled", ""); err != nil {
			return err
		}
		fmt.Fprintf(io.Err, "waxseal: disabled %s: every session ended, every token revoked\n", u.Name)
		return nil
	})
}

func runUserEnable(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "user enable", "NAME", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		u, err := a.FindUser(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return a.EnableUser(ctx, u)
	})
}

func runRevoke(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "revoke", args, io, []command{
		{"user", "revoke every token of a user issued until now (by name or ID)", runRevokeUser},
		{"session", "end a session and revoke its tokens", runRevokeSession},
		{"token", "revoke one access token (the token, or its jti)", runRevokeToken},
	})
}

func printRevocation(io IO, r *waxseal.Revocation) {
	if r == nil {
		fmt.Fprintln(io.Err, "waxseal: nothing to revoke: already ended")
		return
	}
	fmt.Fprintf(io.Out, "%d\n", r.Cursor)
	fmt.Fprintf(io.Err, "waxseal: revoked %s %s (feed cursor %d)\n", r.Kind, r.Value, r.Cursor)
}

func runRevokeUser(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "revoke user", "NAME|ID", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		u, err := a.FindUser(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		r, err := a.EndUser(ctx, u.ID, false, "revoked", "")
		if err == nil {
			printRevocation(io, r)
		}
		return err
	})
}

func runRevokeSession(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "revoke session", "SID", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		r, err := a.EndSession(ctx, fs.Arg(0), "revoked", "")
		if err == nil {
			printRevocation(io, r)
		}
		return err
	})
}

// runRevokeToken revokes an access token given whole (its jti and exp are
// read from it, unverified: revoking needs no trust) or by its jti alone.
func runRevokeToken(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "revoke token", "JWT|JTI", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		jti, exp := fs.Arg(0), time.Time{}
		if strings.Count(jti, ".") == 2 {
			_, claims, err := token.DecodeUnverified(jti)
			if err != nil {
				return err
			}
			var c struct {
				Jti string  `json:"jti"`
				Exp float64 `json:"exp"`
			}
			if err := json.Unmarshal(claims, &c); err != nil || c.Jti == "" {
				return errors.New("the token has no jti")
			}
			jti, exp = c.Jti, time.Unix(int64(c.Exp)+1, 0)
		}
		r, err := a.RevokeToken(ctx, jti, exp, "")
		if err == nil {
			printRevocation(io, r)
		}
		return err
	})
}

// runUserRoles prints a user's roles, or replaces them when any are given.
func runUserRoles(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "user roles", "NAME [ROLE...]", -1, args, io, nil, func(fs *flag.FlagSet, db dburl.DB, a *issuer.Accounts) error {
		if fs.NArg() < 1 {
			return usageError(fs, "missing argument NAME")
		}
		u, err := a.FindUser(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if fs.NArg() > 1 {
			v := *u
			v.Roles, v.Updated = fs.Args()[1:], time.Now()
			if err := db.UpdateUser(ctx, &v); err != nil {
				return err
			}
			a.Audit(ctx, waxseal.AuditEvent{Type: "roles_set", UserID: u.ID, Detail: "from the command line"})
			u = &v
		}
		fmt.Fprintln(io.Out, strings.Join(u.Roles, " "))
		return nil
	})
}

// runUserPasswd sets a user's password and ends every session of the user.
func runUserPasswd(ctx context.Context, args []string, io IO) error {
	return withAccounts(ctx, "user passwd", "NAME", 1, args, io, nil, func(fs *flag.FlagSet, _ dburl.DB, a *issuer.Accounts) error {
		u, err := a.FindUser(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		line, err := bufio.NewReader(io.In).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("no password on standard input")
		}
		if _, err := a.SetPassword(ctx, u, strings.TrimRight(line, "\r\n"), ""); err != nil {
			return err
		}
		fmt.Fprintf(io.Err, "waxseal: password of %s set; every session ended\n", u.Name)
		return nil
	})
}

func runUserSessions(ctx context.Context, args []string, io IO) error {
	var asJSON *bool
	return withAccounts(ctx, "user sessions", "NAME", 1, args, io, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON")
	}, func(fs *flag.FlagSet, db dburl.DB, a *issuer.Accounts) error {
		u, err := a.FindUser(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		sessions, err := db.ListSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, sessions)
		}
		tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SESSION\tCLIENT\tCREATED\tLAST USED\tIP\tUSER AGENT")
		for _, x := range sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.ClientID, x.Created.UTC().Format(time.RFC3339),
				x.LastUsed.UTC().Format(time.RFC3339), x.IP, x.UserAgent)
		}
		return tw.Flush()
	})
}

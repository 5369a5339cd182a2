package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
)

// auditTypes are the event types the issuer writes, for checking --type:
// a mistyped type would otherwise print an empty log, as if nothing had
// happened. A type found in the log is accepted too, so an event type added
// later is never refused.
var auditTypes = []string{
	"login", "login_failed", "refresh", "refresh_reuse", "logout", "logout_all",
	"revoke", "revoked", "password_changed", "password_change_failed",
	"user_created", "user_enabled", "user_disabled", "roles_set",
	"client_created", "client_deleted", "client_secret_rotated", "client_token", "client_auth_failed",
	"key_compromised",
	"admin_client_created", "admin_client_deleted", "admin_client_secret_rotated", "admin_key_compromised",
	"admin_key_rotated", "admin_password_reset", "admin_revoked", "admin_roles_set", "admin_sessions_ended",
	"admin_user_created", "admin_user_disabled", "admin_user_enabled",
}

func runAudit(ctx context.Context, args []string, io IO) error {
	var user, typ *string
	var limit *int
	var asJSON *bool
	return withAccounts(ctx, "audit", "", 0, args, io, func(fs *flag.FlagSet) {
		user = fs.String("user", "", "only events of this user (name or ID)")
		typ = fs.String("type", "", "only events of this type: "+strings.Join(auditTypes, ", "))
		limit = fs.Int("limit", 50, "at most this many events, newest first (1 to 10000)")
		asJSON = fs.Bool("json", false, "print JSON")
	}, func(fs *flag.FlagSet, db dburl.DB, a *issuer.Accounts) error {
		if *limit < 1 || *limit > 10000 {
			return usageError(fs, "--limit must be 1 to 10000")
		}
		userID := ""
		if *user != "" {
			u, err := a.FindUser(ctx, *user)
			if err != nil {
				return err
			}
			userID = u.ID
		}
		if *typ != "" && !slices.Contains(auditTypes, *typ) {
			seen, err := db.Audit(ctx, 0, 1, "", *typ)
			if err != nil {
				return err
			}
			if len(seen) == 0 {
				return usageError(fs, "unknown --type %q; the types are %s", *typ, strings.Join(auditTypes, ", "))
			}
		}
		events, err := db.Audit(ctx, 0, *limit, userID, *typ)
		if err != nil {
			return err
		}
		names, err := userNames(ctx, db, events)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, auditView(events, names))
		}
		tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tTYPE\tUSER\tUSER ID\tSESSION\tCLIENT\tIP\tDETAIL")
		for _, e := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Type,
				dash(names[e.UserID]), dash(e.UserID), dash(e.SessionID), dash(e.ClientID), dash(e.IP), e.Detail)
		}
		return tw.Flush()
	})
}

// userNames maps the user IDs of events to the users' names; a user that
// no longer exists has none.
func userNames(ctx context.Context, db dburl.DB, events []waxseal.AuditEvent) (map[string]string, error) {
	names := map[string]string{}
	for _, e := range events {
		if e.UserID == "" {
			continue
		}
		if _, ok := names[e.UserID]; ok {
			continue
		}
		u, err := db.UserByID(ctx, e.UserID)
		switch {
		case errors.Is(err, waxseal.ErrNotFound):
			names[e.UserID] = ""
		case err != nil:
			return nil, err
		default:
			names[e.UserID] = u.Name
		}
	}
	return names, nil
}

// auditView is the JSON form of events: each as stored, with the user's
// name beside the ID.
func auditView(events []waxseal.AuditEvent, names map[string]string) any {
	type event struct {
		waxseal.AuditEvent
		UserName string `json:"UserName,omitempty"`
	}
	out := make([]event, len(events))
	for i, e := range events {
		out[i] = event{e, names[e.UserID]}
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

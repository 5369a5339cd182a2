package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
)

func runKeys(ctx context.Context, args []string, io IO) error {
	return subcommand(ctx, "keys", args, io, []command{
		{"init-master", "create a master key file (or print a key) for a new deployment", runKeysInitMaster},
		{"generate", "create the first signing key of a database", runKeysGenerate},
		{"list", "list signing keys and their lifecycle", runKeysList},
		{"rotate", "add a signing key that takes over after the publish lead (--now: at once)", runKeysRotate},
		{"compromise", "unpublish a key at once and revoke every token it signed", runKeysCompromise},
		{"jwks", "print the public key set (for --jwks-file)", runKeysJWKS},
	})
}

// withRing runs fn on the key ring in the database. Only generate may start
// a new ring; the others fail when there is none, so that a mistyped
// --database does not silently create one.
func withRing(ctx context.Context, name, argsUsage string, nargs int, args []string, io IO, extra func(*flag.FlagSet), fn func(*flag.FlagSet, *keyring.Ring, *issuer.Accounts) error) error {
	return withDB(ctx, name, argsUsage, nargs, args, io, extra, func(c dbCommand) error {
		recs, err := c.db.LoadKeys(ctx)
		if err != nil {
			return err
		}
		generate := name == "keys generate"
		switch {
		case generate && len(recs) > 0:
			return fmt.Errorf("%s already holds signing keys; use 'waxseal keys rotate' to add one", dburl.Redact(*c.df.database))
		case !generate && len(recs) == 0:
			return fmt.Errorf("%s holds no signing keys (run 'waxseal keys generate' or 'waxseal serve' first)", dburl.Redact(*c.df.database))
		}
		r, err := c.df.ring(ctx, c.db, io)
		if err != nil {
			return err
		}
		return fn(c.fs, r, c.acct)
	})
}

func runKeysGenerate(ctx context.Context, args []string, io IO) error {
	return withRing(ctx, "keys generate", "", 0, args, io, nil, func(_ *flag.FlagSet, r *keyring.Ring, _ *issuer.Accounts) error {
		return printKeys(io, r.Keys(), false)
	})
}

func runKeysList(ctx context.Context, args []string, io IO) error {
	var asJSON *bool
	return withRing(ctx, "keys list", "", 0, args, io, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON")
	}, func(_ *flag.FlagSet, r *keyring.Ring, _ *issuer.Accounts) error {
		return printKeys(io, r.Keys(), *asJSON)
	})
}

func runKeysRotate(ctx context.Context, args []string, io IO) error {
	var now *bool
	return withRing(ctx, "keys rotate", "", 0, args, io, func(fs *flag.FlagSet) {
		now = fs.Bool("now", false, "sign with the new key at once instead of after the publish lead (verifiers learn it by refetching on its unknown kid)")
	}, func(_ *flag.FlagSet, r *keyring.Ring, _ *issuer.Accounts) error {
		rotate := r.Rotate
		if *now {
			rotate = r.RotateNow
		}
		info, err := rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Err, "waxseal: new key %s signs from %s\n", info.ID, info.Activates.Format(time.RFC3339))
		return printKeys(io, r.Keys(), false)
	})
}

func runKeysCompromise(ctx context.Context, args []string, io IO) error {
	return withRing(ctx, "keys compromise", "KID", 1, args, io, nil, func(fs *flag.FlagSet, r *keyring.Ring, a *issuer.Accounts) error {
		if _, _, err := a.CompromiseKey(ctx, r, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(io.Err, "waxseal: key %s is compromised: unpublished, and every token it signed revoked through the feed\n", fs.Arg(0))
		return printKeys(io, r.Keys(), false)
	})
}

// runKeysJWKS prints the public key set, for verifiers that take their keys
// from a file.
func runKeysJWKS(ctx context.Context, args []string, io IO) error {
	return withRing(ctx, "keys jwks", "", 0, args, io, nil, func(_ *flag.FlagSet, r *keyring.Ring, _ *issuer.Accounts) error {
		out, err := json.MarshalIndent(r.PublicSet(), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Out, "%s\n", out)
		return nil
	})
}

func printKeys(io IO, keys []keyring.Info, asJSON bool) error {
	if asJSON {
		return printJSON(io, keys)
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tSIGNS FROM\tSIGNS UNTIL\tPUBLISHED UNTIL")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State,
			k.Activates.Format(time.RFC3339), k.Deactivates.Format(time.RFC3339), k.Retires.Format(time.RFC3339))
	}
	return tw.Flush()
}

// runKeysInitMaster makes a master key for a deployment that cannot let
// serve make one: PostgreSQL, shared by several instances, or a secret
// store. It never replaces a key file, and opens no database.
func runKeysInitMaster(_ context.Context, args []string, io IO) error {
	fs := newFlags("keys init-master", "", io)
	file := fs.String("master-key-file", "", "where to write the key (default: waxseal.key beside the SQLite --database)")
	database := fs.String("database", "sqlite:waxseal.db", "the database the key is for; places the default file beside a SQLite database")
	print := fs.Bool("print", false, "print the key (base64) on standard output instead of writing a file, for WAXSEAL_MASTER_KEY or a secret store")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	k, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		return err
	}
	if *print {
		if *file != "" {
			return usageError(fs, "--print and --master-key-file exclude each other")
		}
		fmt.Fprintln(io.Out, k.Base64())
		return nil
	}
	df := dbFlags{database: database, masterKeyFile: file}
	path, err := df.masterKeyPath()
	if err != nil {
		return err
	}
	if err := keyring.WriteMasterKeyFile(path, k); err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "waxseal: created master key file %s (mode 0600): back it up; without it the signing keys cannot be read\n", path)
	return nil
}

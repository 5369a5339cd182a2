// Package cli implements the waxseal command: the issuer server and the
// operator tools around it. Every command reads its flags from the
// environment too (WAXSEAL_ plus the flag name in upper case, dashes as
// underscores), so the same binary is configured the same way in a shell,
// a unit file or a container.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// errUsage marks an error the user made in calling a command; the message
// has been printed with the command's usage.
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, io IO) error
}

func commands() []command {
	return []command{
		{"serve", "run the issuer", runServe},
		{"proxy", "a reverse proxy that checks tokens for a service", runProxy},
		{"token", "decode or verify an access token", runToken},
		{"keys", "manage the issuer's signing keys", runKeys},
		{"user", "add, list, disable and enable users; roles, passwords, sessions", runUser},
		{"client", "register, list, rotate and delete OAuth clients", runClient},
		{"audit", "read the audit log", runAudit},
		{"revoke", "revoke a user, a session or an access token", runRevoke},
		{"migrate", "create or update the database schema", runMigrate},
	}
}

// Main runs the command named by args[0] and returns the process's exit
// code: 0 on success, 1 when the command failed, 2 on a usage error.
func Main(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.Err)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(io, c.run(ctx, args[1:], io))
		}
	}
	fmt.Fprintf(io.Err, "waxseal: unknown command %q\n\n", args[0])
	usage(io.Err)
	return 2
}

func exitCode(io IO, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(io.Err, "waxseal: %v\n", err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: waxseal COMMAND [flags] [args]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'waxseal COMMAND -h' for a command's flags.")
}

// subcommand dispatches args to the named subcommand of group.
func subcommand(ctx context.Context, group string, args []string, io IO, subs map[string]func(context.Context, []string, IO) error, order []string) error {
	if len(args) > 0 {
		if run, ok := subs[args[0]]; ok {
			return run(ctx, args[1:], io)
		}
		if args[0] != "-h" && args[0] != "--help" {
			fmt.Fprintf(io.Err, "waxseal %s: unknown subcommand %q\n", group, args[0])
		}
	}
	fmt.Fprintf(io.Err, "Usage: waxseal %s {%s} ...\n", group, strings.Join(order, "|"))
	return errUsage
}

// newFlags returns a flag set for "waxseal NAME" that prints to io.Err.
func newFlags(name, argsUsage string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("waxseal "+name, flag.ContinueOnError)
	fs.SetOutput(io.Err)
	fs.Usage = func() {
		fmt.Fprintf(io.Err, "Usage: waxseal %s [flags] %s\n\nFlags:\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, first taking each flag not given on the command line
// from its environment variable, and checks the number of positional
// arguments.
func parse(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := "WAXSEAL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if nargs >= 0 && fs.NArg() != nargs {
		fs.Usage()
		return errUsage
	}
	return nil
}

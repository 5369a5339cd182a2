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
// has been printed with a pointer to the command's help.
var errUsage = errors.New("usage")

// command is a command or a subcommand: its name, the one line that lists
// it, and what runs it.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, io IO) error
}

func commands() []command {
	return []command{
		{"serve", "run the issuer", runServe},
		{"proxy", "a reverse proxy that checks tokens for a service", runProxy},
		{"token", "decode or verify an access token", runToken},
		{"keys", "manage the master key and the issuer's signing keys", runKeys},
		{"user", "add, list, disable and enable users; roles, passwords, sessions", runUser},
		{"client", "register, list, rotate and delete OAuth clients", runClient},
		{"audit", "read the audit log", runAudit},
		{"revoke", "revoke a user, a session or an access token", runRevoke},
		{"migrate", "create the database or update its schema", runMigrate},
		{"healthcheck", "exit 0 if a server's readiness endpoint answers 200 (for container probes)", runHealthcheck},
		{"version", "print the version, the commit and the Go version of this binary", runVersion},
	}
}

// Main runs the command named by args[0] and returns the process's exit
// code: 0 on success, 1 when the command failed, 2 on a usage error.
func Main(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 {
		usage(io.Err)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(io.Out)
		return 0
	case "-version", "--version":
		args = []string{"version"}
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(io, c.run(ctx, args[1:], io))
		}
	}
	fmt.Fprintf(io.Err, "waxseal: unknown command %q\nRun 'waxseal --help' for the list of commands.\n", args[0])
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
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'waxseal COMMAND --help' for a command's subcommands and flags.")
}

// subcommand runs the subcommand of group that args[0] names; with no
// name, or --help, it lists the subcommands one line each.
func subcommand(ctx context.Context, group string, args []string, cio IO, subs []command) error {
	list := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: waxseal %s SUBCOMMAND [flags] [args]\n\nSubcommands:\n", group)
		for _, c := range subs {
			fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, "\nRun 'waxseal %s SUBCOMMAND --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		list(cio.Err)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		list(cio.Out)
		return flag.ErrHelp
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, args[1:], cio)
		}
	}
	fmt.Fprintf(cio.Err, "waxseal %s: unknown subcommand %q\nRun 'waxseal %s --help' for the list of subcommands.\n", group, args[0], group)
	return errUsage
}

// newFlags returns a flag set for "waxseal NAME". Its usage, printed on
// --help, shows what the command does (from help), its arguments and its
// flags; a wrong flag prints only the error and where help is.
func newFlags(name, argsUsage string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("waxseal "+name, flag.ContinueOnError)
	fs.SetOutput(io.Err) // errors
	fs.Usage = func() {
		w := io.Out // help that was asked for
		fs.SetOutput(w)
		defer fs.SetOutput(io.Err)
		fmt.Fprintf(w, "Usage: waxseal %s [flags] %s\n", name, argsUsage)
		if doc := help[name]; doc != "" {
			fmt.Fprintf(w, "\n%s\n", doc)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags (each also read from WAXSEAL_<FLAG>, upper case, - as _):")
			fs.PrintDefaults()
		}
	}
	return fs
}

// usageError prints a usage mistake and where help is, and returns
// errUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\nRun '%s --help' for usage.\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return errUsage
}

// parse parses args, first taking each flag not given on the command line
// from its environment variable, and checks the number of positional
// arguments (any number when nargs < 0).
func parse(fs *flag.FlagSet, args []string, nargs int) error {
	out, usageFn := fs.Output(), fs.Usage
	// The flag package prints the error and the whole usage on a wrong
	// flag; the error and one line pointing at --help help more.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usageFn
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		if nargs != 0 && strings.HasPrefix(err.Error(), "flag provided but not defined") {
			// Key IDs (RFC 7638 thumbprints), session and token IDs are
			// base64url and may start with '-', which the flag package reads
			// as a flag; "--" ends the flags.
			return usageError(fs, "%v (an argument that starts with '-', such as a key ID, goes after '--': %s [flags] -- ARG)", err, fs.Name())
		}
		return usageError(fs, "%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := EnvName(f.Name)
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
		switch {
		case nargs == 0:
			return usageError(fs, "unexpected argument %q", fs.Arg(0))
		case fs.NArg() < nargs:
			return usageError(fs, "missing argument")
		default:
			return usageError(fs, "too many arguments")
		}
	}
	return nil
}

// EnvName is the environment variable a flag is also read from.
func EnvName(flagName string) string {
	return "WAXSEAL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

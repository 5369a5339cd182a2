// Command proof measures waxseal's stateless tokens against server-side
// sessions (sticky, and shared in Redis) on one workload, with real
// processes on loopback, and writes docs/PROOF.md with tables, CSV files
// and plots. Run it from this directory: go run . (or ./run, which first
// installs what is missing).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/waxseal/waxseal/proof/experiment"
)

func main() {
	short := flag.Bool("short", false, "one short round of each experiment (seconds, for CI)")
	out := flag.String("out", "", "directory of PROOF.md (default: the repository's docs)")
	pg := flag.String("postgres", os.Getenv("WAXSEAL_PROOF_POSTGRES"), "admin URL of a PostgreSQL server for the issuer (empty: SQLite)")
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium binary for the CSRF experiment (empty: skip it)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *short, *out, *pg, *chromium); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, short bool, out, pg, chromium string) error {
	root, err := experiment.FindRoot()
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(root, "docs")
	}
	work, err := os.MkdirTemp("", "waxseal-proof-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	p := experiment.Full()
	if short {
		p = experiment.Short()
	}
	if _, err := os.Stat(chromium); chromium != "" && err != nil {
		log.Printf("no Chromium at %s: the CSRF experiment will be skipped", chromium)
		chromium = ""
	}
	o := experiment.Options{Params: p, Root: root, Out: out, Work: work, Postgres: pg, Chromium: chromium,
		Logf: func(f string, a ...any) { log.Printf(f, a...) }}
	if err := os.MkdirAll(filepath.Join(out, "proof"), 0o755); err != nil {
		return err
	}
	res, runErr := experiment.Run(ctx, o)
	if res == nil {
		return runErr
	}
	// What ran is reported even when a part failed; the failure is
	// named in the report and in the exit status.
	if err := experiment.Write(o, res); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Printf("wrote %s in %s\n", filepath.Join(out, "PROOF.md"), res.Elapsed.Round(1e9))
	return runErr
}

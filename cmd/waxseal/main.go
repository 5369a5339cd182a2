// Command waxseal runs the waxseal issuer and its operator tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/waxseal/waxseal/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

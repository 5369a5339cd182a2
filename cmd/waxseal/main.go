// Command waxseal runs the waxseal issuer and its operator tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// Root certificates for when the system has none, as in the container
	// image (FROM scratch): the proxy and the guard fetch an https issuer,
	// and PostgreSQL and Redis may be reached over TLS. The system's roots,
	// where there are any, still take precedence.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/waxseal/waxseal/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

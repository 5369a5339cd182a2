package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealthcheck asks a readiness endpoint whether the server is ready, for
// container images that have no shell or curl: HEALTHCHECK and exec probes
// run the binary itself.
func runHealthcheck(ctx context.Context, args []string, cio IO) error {
	fs := newFlags("healthcheck", "", cio)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "the endpoint to ask: /readyz of serve, /.waxseal/readyz of proxy")
	timeout := &durationFlag{d: 3 * time.Second}
	fs.Var(timeout, "timeout", "how long to wait for the answer")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout.d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s: %s", resp.Status, body)
	}
	fmt.Fprintln(cio.Out, "ready")
	return nil
}

package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/interop/harness"
)

// quietLog is an error log for in-process test servers whose handshake
// failures are expected.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// startUpstream starts the service behind a guard: it answers 200 with the
// subject the guard vouched for.
func startUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s\n", r.Header.Get("X-Waxseal-Subject"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// guardStatus is the status the guard answers to a request bearing the
// access token.
func guardStatus(t *testing.T, g *harness.Guard, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.URL+"/notes", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// getJSON fetches url and decodes its JSON body into v, failing the test
// unless the answer is 200 with a JSON content type.
func getJSON(t *testing.T, client *http.Client, url string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.Contains(ct, "json") {
		t.Fatalf("GET %s: %s, %s", url, resp.Status, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

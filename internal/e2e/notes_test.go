package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/waxseal/waxseal/examples/notes/notes"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
)

// instance is one process of the notes service.
type instance struct {
	srv  *notes.Server
	http *httptest.Server
	once sync.Once
}

func startNotes(t *testing.T, iss *issuertest.Issuer, db string) *instance {
	t.Helper()
	srv, err := notes.Open(context.Background(), notes.Config{Guard: iss.GuardConfig("notes"), Database: db, Logger: issuertest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	issuertest.WaitReady(t, srv)
	in := &instance{srv: srv, http: httptest.NewServer(srv)}
	t.Cleanup(in.kill)
	return in
}

// kill stops the instance as a crash would, as far as its clients can tell:
// its port no longer answers.
func (in *instance) kill() {
	in.once.Do(func() {
		in.http.Close()
		in.srv.Close()
	})
}

// roundRobin is a load balancer: each request goes to the next backend,
// dead or alive; a backend it cannot reach is answered 502.
func roundRobin(t *testing.T, backends ...*instance) *httptest.Server {
	var next atomic.Uint64
	targets := make([]*url.URL, len(backends))
	for i, b := range backends {
		targets[i], _ = url.Parse(b.http.URL)
	}
	lb := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		},
		ErrorLog: log.New(io.Discard, "", 0),
	})
	t.Cleanup(lb.Close)
	return lb
}

// TestNotesBehindALoadBalancer logs a user in once and has them use two
// guarded instances of the notes service, in turn, through a load balancer;
// one instance dies half way. A request that fails on the dead instance
// must succeed when retried once, on the other: nothing about the user's
// login lives in either instance.
func TestNotesBehindALoadBalancer(t *testing.T) {
	iss := issuertest.Start(t, issuertest.Config{})
	iss.AddUser("alice")
	db := filepath.Join(t.TempDir(), "notes.db")
	a, b := startNotes(t, iss, db), startNotes(t, iss, db)
	lb := roundRobin(t, a, b)
	access := iss.Login("alice", "").Access

	retries := 0
	// send makes a request, and retries it once if it fails for want of a
	// live instance (no answer, or a 5xx).
	send := func(method, body string) []byte {
		t.Helper()
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequest(method, lb.URL+"/notes", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+access)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			var out []byte
			if err == nil {
				out, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode >= 500 {
					err = fmt.Errorf("status %d: %s", resp.StatusCode, out)
				}
			}
			switch {
			case err == nil && resp.StatusCode >= 300:
				t.Fatalf("%s /notes: %d %s", method, resp.StatusCode, out)
			case err == nil:
				return out
			case attempt == 1:
				t.Fatalf("%s /notes failed after a retry: %v", method, err)
			}
			retries++
		}
	}

	const requests, killAt = 40, 20
	var written []string
	for i := range requests {
		if i == killAt {
			if retries != 0 {
				t.Fatalf("%d retries while both instances lived", retries)
			}
			a.kill()
		}
		if i%2 == 0 {
			text := fmt.Sprintf("note %d", i)
			send(http.MethodPost, `{"text":"`+text+`"}`)
			written = append(written, text)
			continue
		}
		var listed []notes.Note
		if err := json.Unmarshal(send(http.MethodGet, ""), &listed); err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(listed))
		for j, n := range listed {
			got[j] = n.Text
		}
		if !slices.Equal(got, written) {
			t.Fatalf("request %d lists %q, want %q", i, got, written)
		}
	}
	if retries == 0 {
		t.Error("no request was retried: the dead instance got no traffic")
	}
}

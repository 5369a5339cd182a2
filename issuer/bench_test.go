package issuer_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

// The benchmarks below send whole HTTP requests to an issuer on loopback,
// from many clients at once, and report throughput. They measure the issuer
// and its store together, as a deployment would see them.

const (
	// refreshClients is how many clients refresh at once, each in a
	// session of its own, so that what is measured is the store's
	// throughput rather than contention on one session's rows.
	refreshClients = 32
	// loginClients keeps the password hasher busy (one hash per CPU at a
	// time) with a short queue, well inside its two-second wait.
	loginClients = 8
)

// benchEnv starts an issuer for a benchmark. It runs on the real clock,
// because a frozen one would spare every refresh after a session's first
// its write of the session's last use, and logs as `waxseal serve` does,
// in JSON, to nowhere.
func benchEnv(b *testing.B, eng engine, opts ...envOption) (*env, *http.Client) {
	b.Helper()
	opts = append([]envOption{func(c *issuer.Config, _ *password.HasherConfig) {
		c.Now = time.Now
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}}, opts...)
	e := newEnv(b, eng.open(b), nil, opts...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: refreshClients}}
	b.Cleanup(client.CloseIdleConnections)
	return e, client
}

// parallelism returns the argument to SetParallelism that runs about n
// goroutines, and how many it runs.
func parallelism(n int) (p, goroutines int) {
	procs := runtime.GOMAXPROCS(0)
	p = max(1, (n+procs-1)/procs)
	return p, p * procs
}

// benchPost sends a form from a benchmark's goroutine, where the env's
// helpers, which stop the benchmark on failure, may not be used.
func benchPost(c *http.Client, url string, form url.Values) (response, error) {
	resp, err := c.Post(url, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	json.Unmarshal(raw, &r.Body)
	return r, err
}

func BenchmarkRefresh(b *testing.B) {
	for _, eng := range []engine{sqliteEngine(), postgresEngine(pgtest.URL)} {
		b.Run("engine="+eng.name, func(b *testing.B) {
			e, client := benchEnv(b, eng)
			e.addUser("alice", testPassword)
			p, n := parallelism(refreshClients)
			sessions := make([]string, n)
			for i := range sessions {
				_, sessions[i] = e.mustLogin("alice", testPassword)
			}
			var next atomic.Int64
			tokenURL := e.http.URL + issuer.TokenPath
			b.SetParallelism(p)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rt := sessions[next.Add(1)-1]
				for pb.Next() {
					r, err := benchPost(client, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
					if err != nil || r.Status != http.StatusOK {
						b.Errorf("refresh: %v %d %s", err, r.Status, r.Raw)
						return
					}
					rt = r.str("refresh_token")
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
		})
	}
}

// BenchmarkLogin measures password grants at password.DefaultParams, with
// the default limit of one hash per CPU at a time.
func BenchmarkLogin(b *testing.B) {
	for _, eng := range []engine{sqliteEngine(), postgresEngine(pgtest.URL)} {
		b.Run("engine="+eng.name, func(b *testing.B) {
			e, client := benchEnv(b, eng, func(_ *issuer.Config, h *password.HasherConfig) {
				h.Params = password.DefaultParams
			})
			e.addUser("alice", testPassword)
			form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}
			tokenURL := e.http.URL + issuer.TokenPath
			p, _ := parallelism(loginClients)
			b.SetParallelism(p)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, err := benchPost(client, tokenURL, form)
					if err != nil || r.Status != http.StatusOK {
						b.Errorf("login: %v %d %s", err, r.Status, r.Raw)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}

package issuer_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/ratelimit"
)

// statusCounts sends n requests made by req from workers goroutines and
// counts the answers by status.
func statusCounts(t *testing.T, e *env, n, workers int, req func(i int) *http.Request) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				r := e.do(req(i))
				mu.Lock()
				counts[r.Status]++
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return counts
}

func formRequest(e *env, path string, form url.Values, id, secret string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return req
}

// TestLimitsStopGuessingNotWork: the brute-force limits count failed
// client authentications and failed passwords, not successful calls. A
// resource server introspecting thousands of tokens from one address, a
// fleet of services behind one NAT asking for client_credentials tokens,
// and an office of users logging in from one address all just work; on
// both engines.
func TestLimitsStopGuessingNotWork(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) { c.Audiences = []string{"notes"} })
		e.addUser("alice", testPassword)
		notes := e.addClient("notes", []string{issuer.GrantClientCredentials}, nil, nil)
		access, _ := e.mustLogin("alice", testPassword)

		introspections := statusCounts(t, e, 5000, 8, func(int) *http.Request {
			return formRequest(e, issuer.IntrospectPath, url.Values{"token": {access}}, "notes", notes)
		})
		if introspections[http.StatusOK] != 5000 {
			t.Errorf("5,000 introspections from one address: %v, want all 200", introspections)
		}
		grants := statusCounts(t, e, 1000, 8, func(int) *http.Request {
			return formRequest(e, issuer.TokenPath, url.Values{"grant_type": {issuer.GrantClientCredentials}}, "notes", notes)
		})
		if grants[http.StatusOK] != 1000 {
			t.Errorf("1,000 client_credentials grants from one address: %v, want all 200", grants)
		}
		const users = 3 * 50 // three times the network's burst
		for i := range users {
			e.addUser(fmt.Sprint("user", i), testPassword)
		}
		logins := statusCounts(t, e, users, 4, func(i int) *http.Request {
			return formRequest(e, issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {fmt.Sprint("user", i)}, "password": {testPassword}}, "", "")
		})
		if logins[http.StatusOK] != users {
			t.Errorf("%d logins of different users from one address: %v, want all 200", users, logins)
		}
	})
}

// TestFailedClientAuthenticationsLimited: wrong client secrets from one
// network are refused with 429 once the network's budget is spent, and the
// right secret from elsewhere still works: an attacker cannot lock a
// service out by failing on purpose.
func TestFailedClientAuthenticationsLimited(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) {
		c.Limits.TrustedProxies = loopbackProxies
	})
	secret := e.addClient("billing", []string{issuer.GrantClientCredentials}, nil, nil)
	wrong := func(from string) response {
		req := formRequest(e, issuer.TokenPath, url.Values{"grant_type": {issuer.GrantClientCredentials}}, "billing", "wrong")
		req.Header.Set("X-Forwarded-For", from)
		return e.do(req)
	}
	counts := map[int]int{}
	for range 200 {
		counts[wrong("203.0.113.5").Status]++
	}
	if counts[http.StatusUnauthorized] != ratelimit.IPPolicy.Burst || counts[http.StatusTooManyRequests] != 200-ratelimit.IPPolicy.Burst {
		t.Errorf("200 wrong secrets from one address: %v, want %d × 401 then 429", counts, ratelimit.IPPolicy.Burst)
	}
	// Failures from many addresses do not lock the client out.
	for i := range 300 {
		wrong(fmt.Sprintf("198.51.100.%d", i%250))
	}
	req := formRequest(e, issuer.TokenPath, url.Values{"grant_type": {issuer.GrantClientCredentials}}, "billing", secret)
	req.Header.Set("X-Forwarded-For", "192.0.2.10")
	if r := e.do(req); r.Status != http.StatusOK {
		t.Errorf("the right secret after 300 failures from elsewhere: %d %s", r.Status, r.Raw)
	}
}

// TestPasswordChangeLimited: the current password on POST /v1/password is a
// password check like a login and counts against the account's budget: an
// attacker holding a stolen access token cannot guess the password there
// without limit.
func TestPasswordChangeLimited(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		access, _ := e.mustLogin("alice", testPassword)
		counts := map[int]int{}
		for i := range 25 {
			r := e.json(http.MethodPost, issuer.PasswordPath, access, fmt.Sprintf(`{"current_password":"guess %d","new_password":"%s"}`, i, "another long passphrase 2026"))
			counts[r.Status]++
			if r.Status == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
		if counts[http.StatusForbidden] > ratelimit.AccountPolicy.Burst || counts[http.StatusTooManyRequests] == 0 {
			t.Errorf("25 wrong current passwords: %v, want at most %d × 403, then 429", counts, ratelimit.AccountPolicy.Burst)
		}
		// The login shares the account's budget.
		if r := e.login("alice", testPassword); r.Status != http.StatusTooManyRequests {
			t.Errorf("login after 25 wrong current passwords: %d, want 429", r.Status)
		}
	})
}

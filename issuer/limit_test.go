package issuer_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/internal/testenv"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/ratelimit"
)

// redisLimits returns limits kept in the test Redis server under a prefix
// of their own, shared by every instance given the same prefix.
func redisLimits(t *testing.T, prefix string) issuer.Limits {
	t.Helper()
	u := testenv.Redis(t)
	client, err := ratelimit.OpenRedis(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return issuer.Limits{
		Account: ratelimit.NewRedis(client, prefix+"acct:", ratelimit.AccountPolicy),
		IP:      ratelimit.NewRedis(client, prefix+"ip:", ratelimit.IPPolicy),
		Client:  ratelimit.NewRedis(client, prefix+"client:", ratelimit.ClientPolicy),
	}
}

// TestBruteForceAcrossInstances sends 1,000 wrong passwords for one account,
// spread over three issuer instances that share a database and a Redis
// server, each attempt from its own (trusted-proxy-forwarded) address so
// that only the account's limit can stop them.
func TestBruteForceAcrossInstances(t *testing.T) {
	prefix := "waxseal-test-" + rand.Text()[:10] + ":"
	db := pgtest.URL(t)
	eng := postgresEngine(func(testing.TB) string { return db })
	clk := issuertest.NewClock()
	var instances []*env
	for range 3 {
		instances = append(instances, newEnv(t, eng.open(t), clk, func(c *issuer.Config, _ *password.HasherConfig) {
			c.Limits = redisLimits(t, prefix)
			c.Limits.TrustedProxies = loopbackProxies
		}))
	}
	instances[0].addUser("alice", testPassword)

	const attempts = 1000
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range attempts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e := instances[i%3]
			r := e.postFormFrom(fmt.Sprintf("198.51.%d.%d", i/250, i%250), issuer.TokenPath,
				url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {fmt.Sprint("guess ", i)}})
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	hashed := statuses[http.StatusBadRequest] // invalid_grant: the password was checked
	t.Logf("%d attempts over 3 instances: %d reached password hashing, %d refused with 429", attempts, hashed, statuses[http.StatusTooManyRequests])
	if hashed != ratelimit.AccountPolicy.Burst || statuses[http.StatusTooManyRequests] != attempts-hashed {
		t.Errorf("statuses %v: want exactly the account's burst (%d) hashed and the rest 429", statuses, ratelimit.AccountPolicy.Burst)
	}
	failed, err := instances[0].store.Audit(context.Background(), 0, 500, "", "login_failed")
	if err != nil || len(failed) != hashed {
		t.Errorf("audit has %d login_failed events (%v), want %d", len(failed), err, hashed)
	}

	// While the attack goes on, the real user is refused too; once it
	// stops, within the capped backoff, the real user logs in.
	if r := instances[1].postFormFrom("203.0.113.7", issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}); r.Status != http.StatusTooManyRequests {
		t.Errorf("during the attack: %d", r.Status)
	}
	clk.Advance(ratelimit.AccountPolicy.MaxPenalty + ratelimit.AccountPolicy.Refill)
	if r := instances[2].postFormFrom("203.0.113.7", issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}); r.Status != http.StatusOK {
		t.Errorf("after the attack: %d %s", r.Status, r.Raw)
	}
}

// TestPasswordSpray tries one password on 1,000 accounts from one address:
// the address's limit stops it, whichever accounts it names.
func TestPasswordSpray(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	hashed, limited := 0, 0
	for i := range 1000 {
		r := e.login(fmt.Sprint("user", i), "Summer2026!Summer2026!")
		switch r.Status {
		case http.StatusBadRequest:
			hashed++
		case http.StatusTooManyRequests:
			limited++
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("spray: %d %s", r.Status, r.Raw)
		}
	}
	t.Logf("spray of 1,000 accounts from one address: %d reached hashing, %d refused", hashed, limited)
	if hashed != ratelimit.IPPolicy.Burst {
		t.Errorf("%d attempts reached hashing, want the address's burst %d", hashed, ratelimit.IPPolicy.Burst)
	}
	// A forged X-Forwarded-For from an untrusted peer changes nothing.
	if r := e.postFormFrom("192.0.2.1", issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"x"}, "password": {"y"}}); r.Status != http.StatusTooManyRequests {
		t.Errorf("forged X-Forwarded-For from an untrusted peer: %d", r.Status)
	}
	// The address recovers by itself.
	e.clock.Advance(ratelimit.IPPolicy.MaxPenalty + ratelimit.IPPolicy.Refill)
	e.addUser("alice", testPassword)
	e.mustLogin("alice", testPassword)
}

func TestSignupLimited(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) { c.Signup = true })
	limited := 0
	for i := range 60 {
		r := e.json(http.MethodPost, issuer.SignupPath, "", fmt.Sprintf(`{"username":"user%d","password":"%s"}`, i, testPassword))
		if r.Status == http.StatusTooManyRequests {
			limited++
		} else if r.Status != http.StatusCreated {
			t.Fatalf("signup %d: %d %s", i, r.Status, r.Raw)
		}
	}
	if limited != 60-ratelimit.IPPolicy.Burst {
		t.Errorf("%d signups refused, want %d", limited, 60-ratelimit.IPPolicy.Burst)
	}
}

package ratelimit_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/waxseal/waxseal/ratelimit"
)

// A password grant: the client's network and then the account are asked
// before the password is hashed, and a correct password resets the
// account's bucket. An attack on one account from one address is refused
// with a growing Retry-After, never over AccountPolicy.MaxPenalty.
func Example() {
	ctx := context.Background()
	accounts := ratelimit.NewMemory(ratelimit.AccountPolicy) // NewRedis with several instances
	networks := ratelimit.NewMemory(ratelimit.IPPolicy)
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}

	r := httptest.NewRequest("POST", "/token", nil)
	r.RemoteAddr = "10.0.0.7:51234" // the load balancer
	r.Header.Set("X-Forwarded-For", "203.0.113.50, 2001:db8:1:2::beef")
	ipKey := "ip:" + ratelimit.ClientNetwork(ratelimit.ClientIP(r, proxies)).String()
	fmt.Println(ipKey)

	login := func(now time.Time, passwordOK bool) string {
		for _, c := range []struct {
			l   ratelimit.Limiter
			key string
		}{{networks, ipKey}, {accounts, "acct:jane.doe"}} {
			d, err := c.l.Allow(ctx, c.key, now)
			if err != nil {
				return "503" // fail closed
			}
			if !d.Allowed {
				return fmt.Sprintf("429, Retry-After %v", d.RetryAfter)
			}
		}
		if !passwordOK { // the password is hashed here
			return "400 invalid_grant"
		}
		accounts.Reset(ctx, "acct:jane.doe")
		return "200"
	}

	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 14 {
		if res := login(now, false); i >= 9 {
			fmt.Printf("guess %d: %s\n", i+1, res)
		}
	}
	fmt.Println("after the cap:", login(now.Add(ratelimit.AccountPolicy.MaxPenalty), true))
	// Output:
	// ip:2001:db8:1:2::/64
	// guess 10: 400 invalid_grant
	// guess 11: 429, Retry-After 1m0s
	// guess 12: 429, Retry-After 2m0s
	// guess 13: 429, Retry-After 4m0s
	// guess 14: 429, Retry-After 5m0s
	// after the cap: 200
}

package measure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/postgres"
)

// TestPoolSizeThroughput measures refresh grants per second of an issuer
// on PostgreSQL with pgx's default pool size (4 on this machine's CPU
// count, or one per CPU) against postgres.DefaultMaxConns, side by side:
// two instances on one schema, one per pool size, driven in alternating
// rounds by the same number of concurrent clients, each rotating its own
// refresh token. A refresh is a rotation transaction, so the pool is what
// it may wait for.
//
//	WAXSEAL_MEASURE=1 go test ./internal/measure/ -run TestPoolSizeThroughput -count=1 -v
func TestPoolSizeThroughput(t *testing.T) {
	gate(t)
	const (
		clients = 32
		rounds  = 4
		round   = 5 * time.Second
	)
	base := pgtest.URL(t)
	master, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	small, large := 4, int(postgres.DefaultMaxConns())
	var insts []*instance
	for _, size := range []int{small, large} {
		store := openPostgres(t, fmt.Sprintf("%s&pool_max_conns=%d", base, size))
		if err := store.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		ln := listen(t)
		insts = append(insts, startInstance(t, store, master, "http://"+ln.Addr().String(), ln))
	}
	acct := &issuer.Accounts{Store: insts[0].store, Hasher: cheapHasher(t), Logger: warnings}
	if _, err := acct.AddUser(context.Background(), "pooluser", userPassword, nil); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

	rate := [2][]float64{}
	for r := range 2 * rounds {
		i := r % 2
		n := refreshRound(t, client, insts[i].url, clients, round)
		rate[i] = append(rate[i], float64(n)/round.Seconds())
		t.Logf("round %d: pool %d: %.0f refreshes/s (load %s)", r+1, []int{small, large}[i], rate[i][len(rate[i])-1], loadavg())
	}
	ms, ml := median(rate[0]), median(rate[1])
	t.Logf("| pool_max_conns | refreshes/s, each round | median |")
	t.Logf("|---|---|---|")
	t.Logf("| %d | %s | %.0f |", small, joinFloats(rate[0], "%.0f"), ms)
	t.Logf("| %d | %s | %.0f |", large, joinFloats(rate[1], "%.0f"), ml)
	t.Logf("ratio %d/%d: %.2f", large, small, ml/ms)
}

// refreshRound logs clients in at base, then lets each rotate its refresh
// token as fast as it can for d, and returns the refreshes that succeeded.
func refreshRound(t *testing.T, c *http.Client, base string, clients int, d time.Duration) int64 {
	t.Helper()
	tokens := make([]string, clients)
	for i := range tokens {
		tokens[i] = grant(t, c, base, url.Values{"grant_type": {"password"}, "username": {"pooluser"}, "password": {userPassword}}).Refresh
	}
	var done atomic.Int64
	var failed atomic.Value
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			rt := tokens[i]
			for time.Now().Before(stop) {
				resp, err := c.PostForm(base+issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if err != nil {
					failed.Store(err.Error())
					return
				}
				var tr tokenResponse
				err = json.NewDecoder(resp.Body).Decode(&tr)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil || tr.Refresh == "" {
					failed.Store(fmt.Sprintf("refresh: %d %v", resp.StatusCode, err))
					return
				}
				rt = tr.Refresh
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	return done.Load()
}

package ratelimit

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/waxseal/waxseal/internal/testenv"
)

// redisURL is the Redis server the tests use: WAXSEAL_TEST_REDIS, or the
// usual local address.
func redisURL(t *testing.T) string {
	t.Helper()
	return testenv.Redis(t)
}

// openRedis returns two Limiters with clients of their own, as two issuer
// instances have, on keys under a prefix that no other test uses, and
// deletes those keys when t ends.
func openRedis(t *testing.T, p Policy) (a, b *Redis) {
	t.Helper()
	url := redisURL(t)
	prefix := "waxseal-test:ratelimit:" + rand.Text() + ":"
	for _, l := range []**Redis{&a, &b} {
		c, err := OpenRedis(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		*l = NewRedis(c, prefix, p)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := a.client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			a.client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("deleting the test's keys: %v", err)
		}
	})
	return a, b
}

func TestRedis(t *testing.T) {
	redisURL(t)
	testLimiter(t, func(t *testing.T, p Policy) (a, b Limiter) { return openRedis(t, p) })
}

// TestRedisKeyExpires: a bucket's key lives until the bucket is full again,
// so Redis holds only the buckets of recent attempts.
func TestRedisKeyExpires(t *testing.T) {
	p := Policy{Burst: 2, Refill: 10 * time.Second, MaxPenalty: time.Minute}
	r, _ := openRedis(t, p)
	ctx := t.Context()
	now := time.Now()
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second} {
		if _, err := r.Allow(ctx, "acct:jane", now); err != nil {
			t.Fatal(err)
		}
		ttl, err := r.client.PTTL(ctx, r.key("acct:jane")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= want-time.Second || ttl > want {
			t.Errorf("after attempt %d: key expires in %v, want %v", i, ttl, want)
		}
	}
	if n, err := r.client.Exists(ctx, r.prefix+"acct:jane").Result(); err != nil || n != 0 {
		t.Errorf("the key in Redis holds the user name: %d, %v", n, err)
	}
	if err := r.Reset(ctx, "acct:jane"); err != nil {
		t.Fatal(err)
	}
	if n, err := r.client.Exists(ctx, r.key("acct:jane")).Result(); err != nil || n != 0 {
		t.Errorf("after Reset: key exists: %d, %v", n, err)
	}
}

// TestRedisScriptFlushed: after a Redis restart or failover the server lacks
// the script, and Allow loads it again.
func TestRedisScriptFlushed(t *testing.T) {
	r, _ := openRedis(t, AccountPolicy)
	ctx := t.Context()
	if err := r.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if d, err := r.Allow(ctx, "acct:jane", t0); err != nil || !d.Allowed {
		t.Fatalf("Allow after SCRIPT FLUSH = %+v, %v", d, err)
	}
}

// TestRedisDown: without Redis, Allow fails and allows nothing, so the
// issuer can refuse the attempt.
func TestRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	r := NewRedis(c, "waxseal-test:", AccountPolicy)
	d, err := r.Allow(t.Context(), "acct:jane", t0)
	if err == nil || d != (Decision{}) {
		t.Errorf("Allow = %+v, %v; want an error", d, err)
	}
	if !strings.HasPrefix(err.Error(), "ratelimit: ") {
		t.Errorf("error %q lacks the package name", err)
	}
	if err := r.Reset(t.Context(), "acct:jane"); err == nil {
		t.Error("Reset without Redis did not fail")
	}
}

func TestOpenRedis(t *testing.T) {
	for _, url := range []string{
		"http://127.0.0.1:6379/0",
		"redis://127.0.0.1:6379/zero",
		"redis://:s3cret@[::1/0",               // a *url.Error quotes the URL
		"redis://:s3cret@127.0.0.1:1/0",        // nothing listens there
		"redis://jane:s3cret@127.0.0.1:6379/x", // bad database
	} {
		c, err := OpenRedis(t.Context(), url)
		if err == nil {
			c.Close()
			t.Errorf("OpenRedis(%q) did not fail", url)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenRedis(%q): error shows the password: %v", url, err)
		}
	}
}

package ratelimit

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed bucket.lua
var bucketLua string

// bucketScript runs by EVALSHA, and by EVAL when the server does not have it
// yet (after a restart or a failover).
var bucketScript = redis.NewScript(bucketLua)

// Redis is a Limiter whose buckets live in a Redis server shared by every
// issuer instance, so the budget holds across instances. Each bucket is one
// key, prefix followed by the hex SHA-256 of the Limiter key: Redis holds
// no user names or addresses, and every key has the same size. A key expires
// when its bucket is full again, at most Burst×Refill plus MaxPenalty after
// its last attempt, so Redis only holds the buckets of recent attempts.
//
// Time is the caller's now, not the Redis server's clock: the issuer's clock
// is injected everywhere else, and tests need no sleeping. Instances whose
// clocks disagree by d get at most d/Refill tokens more than the budget (none
// for d within Refill) and a bucket never moves back in time, so a clock
// behind refunds nothing. Keep the instances on NTP.
type Redis struct {
	client redis.UniversalClient
	prefix string
	policy Policy
}

// NewRedis returns a Redis that keeps buckets following p under keys
// starting with prefix, such as "waxseal:ratelimit:". The Limiters of
// different policies need keys that differ, which the issuer's "acct:",
// "ip:" and "client:" keys do. NewRedis panics when p cannot work.
func NewRedis(client redis.UniversalClient, prefix string, p Policy) *Redis {
	p.check()
	return &Redis{client: client, prefix: prefix, policy: p}
}

// Allow implements Limiter. It fails when Redis cannot be reached, and the
// issuer then refuses the attempt.
func (r *Redis) Allow(ctx context.Context, key string, now time.Time) (Decision, error) {
	refill := r.policy.Refill.Microseconds()
	res, err := bucketScript.Run(ctx, r.client, []string{r.key(key)},
		now.UnixMicro(), refill, int64(r.policy.Burst)*refill, r.policy.MaxPenalty.Microseconds(),
	).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 2 {
		return Decision{}, errors.New("ratelimit: redis: unexpected script reply")
	}
	if res[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: time.Duration(res[1]) * time.Microsecond}, nil
}

// Peek implements Limiter with one GET: the bucket is only read.
func (r *Redis) Peek(ctx context.Context, key string, now time.Time) (Decision, error) {
	tat, err := r.client.Get(ctx, r.key(key)).Int64()
	if errors.Is(err, redis.Nil) {
		tat, err = 0, nil
	}
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return r.policy.peek(tat, now.UnixMicro()), nil
}

// Reset implements Limiter.
func (r *Redis) Reset(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

func (r *Redis) key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return r.prefix + hex.EncodeToString(sum[:])
}

// OpenRedis connects to the Redis server at rawURL,
// redis://[[user]:password@]host[:port][/db] (rediss:// for TLS), and
// checks that it answers. Its errors never contain the password.
func OpenRedis(ctx context.Context, rawURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// A *url.Error quotes the whole URL, password included.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("ratelimit: redis URL: %w", err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("ratelimit: redis at %s: %w", opts.Addr, err)
	}
	return c, nil
}

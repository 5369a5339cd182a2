// Package testenv finds the services tests run against: PostgreSQL and
// Redis, from WAXSEAL_TEST_POSTGRES and WAXSEAL_TEST_REDIS, or else at
// their usual local addresses when something listens there. Without
// either, a test is skipped with a line saying why, or failed when CI=true:
// CI must test against the real services.
package testenv

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// The variables that name the services, and where they usually are.
const (
	PostgresEnv     = "WAXSEAL_TEST_POSTGRES"
	RedisEnv        = "WAXSEAL_TEST_REDIS"
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedis    = "redis://127.0.0.1:6379/0"
)

// Postgres returns the URL of the PostgreSQL database tests may use.
func Postgres(t testing.TB) string {
	t.Helper()
	return find(t, PostgresEnv, DefaultPostgres, "127.0.0.1:5432", "PostgreSQL")
}

// Redis returns the URL of the Redis server tests may use.
func Redis(t testing.TB) string {
	t.Helper()
	return find(t, RedisEnv, DefaultRedis, "127.0.0.1:6379", "Redis")
}

// listening remembers, per address, whether something accepted a
// connection there: each package probes each address once.
var listening sync.Map // address → bool

func find(t testing.TB, env, fallback, addr, what string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	up, ok := listening.Load(addr)
	if !ok {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		up, _ = listening.LoadOrStore(addr, err == nil)
	}
	if up.(bool) {
		return fallback
	}
	msg := env + " is not set and nothing listens at " + addr + ": skipping the " + what + " tests (set " + env + ", e.g. " + fallback + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI must test against " + what)
	}
	t.Skip(msg)
	return ""
}

package experiment

import (
	"os"
	"testing"
)

// BenchmarkAuthCheck compares the per-request authentication checks of the
// three designs: a waxseal token verified cold and from the verifier's
// cache, and an scs session loaded from Redis and from memory. The Redis
// one uses WAXSEAL_TEST_REDIS (keys under "waxseal-proof:").
//
//	go test -run '^$' -bench AuthCheck -benchmem -count 6 ./experiment/
func BenchmarkAuthCheck(b *testing.B) {
	redisURL := os.Getenv("WAXSEAL_TEST_REDIS")
	checks, err := TokenChecks()
	if err != nil {
		b.Fatal(err)
	}
	urls := []string{""}
	if redisURL != "" {
		urls = append([]string{redisURL}, urls...)
	} else {
		b.Log("WAXSEAL_TEST_REDIS unset: no Redis session benchmark")
	}
	for _, u := range urls {
		c, err := SessionCheck(u)
		if err != nil {
			b.Fatal(err)
		}
		checks = append(checks, c)
	}
	for _, c := range checks {
		b.Run(c.Name, c.Bench)
		c.Close()
	}
}

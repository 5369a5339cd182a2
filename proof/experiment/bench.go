package experiment

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"

	"github.com/waxseal/waxseal/denylist"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/report"
	"github.com/waxseal/waxseal/token"
)

// BenchResult is the cost of one authentication check.
type BenchResult struct {
	Name     string
	NsPerOp  float64
	AllocsOp int64
	BytesOp  int64
	What     string
}

// AuthCheck is one way of deciding who sent a request, prepared for
// benchmarking: Check does it once.
type AuthCheck struct {
	Name, What string
	Check      func() error
	Close      func()
}

// TokenChecks are waxseal's two paths: a token never seen (a full EdDSA
// verification) and one verified before (the verifier's cache), each also
// asking a denylist, as the guard does.
func TokenChecks() ([]AuthCheck, error) {
	key, err := jwk.Generate(jwk.EdDSA, rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	raw, err := token.Mint(key, &token.Claims{Issuer: "https://issuer.example", Subject: "user0001", Audience: []string{"notes"},
		Expiry: now.Add(10 * time.Minute), IssuedAt: now, ID: token.NewID(), ClientID: "app", SessionID: "s1", Roles: []string{"user"}})
	if err != nil {
		return nil, err
	}
	keys := keyset.NewStatic(&jwk.Set{Keys: []*jwk.PublicKey{key.Public()}})
	mk := func(cache int) (*token.Verifier, error) {
		return token.NewVerifier(keys, token.Config{Issuer: "https://issuer.example", Audience: "notes", CacheSize: cache, Denylist: denylist.New()})
	}
	cold, err := mk(-1)
	if err != nil {
		return nil, err
	}
	warm, err := mk(0)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if _, err := warm.Verify(ctx, raw); err != nil {
		return nil, err
	}
	check := func(v *token.Verifier) func() error {
		return func() error { _, err := v.Verify(ctx, raw); return err }
	}
	return []AuthCheck{
		{Name: "token, cold", What: "token.Verifier.Verify of a token not seen before: strict parse, Ed25519 signature, claims, denylist", Check: check(cold), Close: func() {}},
		{Name: "token, warm", What: "the same token again: the verifier's cache and the denylist", Check: check(warm), Close: func() {}},
	}, nil
}

// SessionCheck loads a session with scs as its LoadAndSave middleware does
// and reads the user from it: from Redis at redisURL, or from memory when
// redisURL is empty.
func SessionCheck(redisURL string) (AuthCheck, error) {
	sm := scs.New()
	c := AuthCheck{Name: "session, in memory", What: "scs Load from its memstore, gob decode, GetString(\"user\")", Close: func() {}}
	if redisURL != "" {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			return c, err
		}
		rdb := redis.NewClient(opt)
		sm.Store = goredisstore.NewWithPrefix(rdb, "waxseal-proof:session:")
		c.Name, c.What, c.Close = "session, Redis", "scs Load from Redis over loopback (one GET), gob decode, GetString(\"user\")", func() { rdb.Close() }
	} else {
		sm.Store = memstore.New()
	}
	ctx := context.Background()
	sctx, err := sm.Load(ctx, "")
	if err != nil {
		return c, err
	}
	sm.Put(sctx, "user", "user0001")
	sm.Put(sctx, "csrf", "0123456789abcdef0123456789abcdef")
	tok, _, err := sm.Commit(sctx)
	if err != nil {
		return c, err
	}
	c.Check = func() error {
		lctx, err := sm.Load(ctx, tok)
		if err != nil {
			return err
		}
		if sm.GetString(lctx, "user") != "user0001" {
			return fmt.Errorf("session lost")
		}
		return nil
	}
	return c, nil
}

// AllChecks are the four checks compared; the Redis one uses redisURL.
func AllChecks(redisURL string) ([]AuthCheck, error) {
	checks, err := TokenChecks()
	if err != nil {
		return nil, err
	}
	for _, u := range []string{redisURL, ""} {
		c, err := SessionCheck(u)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// Bench runs c as a Go benchmark.
func (c AuthCheck) Bench(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(); err != nil {
			b.Fatal(err)
		}
	}
}

func runBench(ctx context.Context, env *cluster.Env, o Options, res *Results) error {
	checks, err := AllChecks(env.Redis.URL())
	if err != nil {
		return err
	}
	if o.BenchTime != time.Second {
		// testing.Benchmark runs for -test.benchtime (1 s by default).
		testing.Init()
		flag.Set("test.benchtime", o.BenchTime.String())
	}
	for _, c := range checks {
		defer c.Close()
		if err := c.Check(); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	// Rounds over all the checks in turn, keeping each check's fastest
	// round: the one least disturbed by other work on the machine.
	best := make([]testing.BenchmarkResult, len(checks))
	for range max(1, o.BenchRounds) {
		for i, c := range checks {
			r := testing.Benchmark(c.Bench)
			if best[i].N == 0 || r.NsPerOp() < best[i].NsPerOp() {
				best[i] = r
			}
		}
	}
	for i, c := range checks {
		b := best[i]
		br := BenchResult{Name: c.Name, What: c.What, NsPerOp: float64(b.T.Nanoseconds()) / float64(b.N),
			AllocsOp: b.AllocsPerOp(), BytesOp: b.AllocedBytesPerOp()}
		o.Logf("  %s: %.0f ns/op, %d allocs/op", br.Name, br.NsPerOp, br.AllocsOp)
		res.Bench = append(res.Bench, br)
	}
	t := &report.Table{Name: "auth-cost", Header: []string{"check", "ns per check", "allocations", "bytes", "what one check does"}}
	var cats []string
	var vals []float64
	for _, b := range res.Bench {
		t.Add(b.Name, fmt.Sprintf("%.0f", b.NsPerOp), b.AllocsOp, b.BytesOp, b.What)
		cats = append(cats, b.Name)
		vals = append(vals, b.NsPerOp/1e3)
	}
	res.Tables = append(res.Tables, t)
	if err := t.WriteCSV(outDir(o)); err != nil {
		return err
	}
	return report.Points(outDir(o), "auth-cost", "Cost of the authentication check per request (one core)",
		"µs per check (log scale)", cats, vals, "best of the runs")
}

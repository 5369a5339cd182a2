package experiment

import (
	"fmt"
	"time"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/load"
)

// Capacity is the paper model for a large deployment, with the inputs the
// small runs measured.
type Capacity struct {
	Instances, Users      float64
	IssuerInstances       float64
	TTL, Ahead, Leeway    time.Duration
	RevocationsPerUserDay float64
	RequestsPerUserMinute float64
	Rows                  [][4]string // quantity, formula, value, checked against
}

func capacity(res *Results) *Capacity {
	c := &Capacity{Instances: 100, Users: 1e6, IssuerInstances: 3, TTL: 10 * time.Minute, Ahead: 10 * time.Second,
		Leeway: 30 * time.Second, RevocationsPerUserDay: 1, RequestsPerUserMinute: 6}
	k := res.Costs
	if k == nil {
		return c
	}
	G, U, I := c.Instances, c.Users, c.IssuerInstances
	period := (c.TTL - c.Ahead).Seconds()
	refreshes := U / period
	revs := U * c.RevocationsPerUserDay / 86400
	reqs := U * c.RequestsPerUserMinute / 60
	add := func(q, f, v, chk string) { c.Rows = append(c.Rows, [4]string{q, f, v, chk}) }

	// The small run's refreshes against the same formula, user by user:
	// a user who logged in at L refreshes every TTL−ahead after it.
	predicted, measured := 0, 0
	if l := res.Loss[cluster.Waxseal]; l != nil {
		first := map[int]time.Duration{}
		for _, e := range l.Events {
			if e.Kind == load.Login && e.OK() {
				if _, ok := first[e.User]; !ok {
					first[e.User] = e.At + e.Latency
				}
			}
			if e.Kind == load.Refresh && e.OK() {
				measured++
			}
		}
		p := res.Params.AccessTTL - res.Params.RefreshAhead
		for _, at := range first {
			predicted += int((l.Duration - at) / p)
		}
	}
	add("refreshes per second", "U / (TTL − early)", fmt.Sprintf("%.0f /s", refreshes),
		fmt.Sprintf("run (TTL %s, %d users): formula %d refreshes, measured %d", res.Params.AccessTTL, res.Params.LossUsers, predicted, measured))
	if k.RowsPerRefresh >= 0 {
		add("issuer database rows written per second (refresh)", "refreshes/s × rows per refresh", fmt.Sprintf("%.0f rows/s", refreshes*k.RowsPerRefresh),
			fmt.Sprintf("%.1f rows per refresh, PostgreSQL's counters over %d refreshes", k.RowsPerRefresh, res.Params.CostRounds))
	} else {
		add("issuer database rows written per second (refresh)", "refreshes/s × rows per refresh", "not measured (SQLite run)", "")
	}
	add("issuer CPU for refreshes", "refreshes/s × CPU per refresh", fmt.Sprintf("%.2f cores", refreshes*k.IssuerCPURefresh.Seconds()),
		fmt.Sprintf("%.2f ms of issuer CPU per refresh, measured", float64(k.IssuerCPURefresh)/1e6))
	add("revocations per second", "U × revocations per user per day / 86 400", fmt.Sprintf("%.1f /s", revs), "assumed: one logout per active user per day")
	add("feed fan-out (events sent)", "revocations/s × G", fmt.Sprintf("%.0f events/s, %.0f kB/s", revs*G, revs*G*k.FeedEventBytes/1e3),
		fmt.Sprintf("%.0f bytes per SSE event, read from the issuer's feed (%d events)", k.FeedEventBytes, k.FeedEvents))
	add("SSE connections per issuer instance", "G / issuer instances", fmt.Sprintf("%.0f", G/I),
		fmt.Sprintf("with 3 guards up the issuer reported %.0f open feed streams", k.FeedStreams))
	if k.JWKSMaxAge > 0 {
		add("JWKS fetches", "G / max-age (+ G at each key change)", fmt.Sprintf("%.3f /s (%d bytes each)", G/k.JWKSMaxAge.Seconds(), k.JWKSBytes),
			fmt.Sprintf("Cache-Control max-age=%d measured", int(k.JWKSMaxAge.Seconds())))
	}
	entries := revs * (c.TTL + c.Leeway).Seconds()
	add("denylist per guard", "revocations/s × (TTL + leeway) × bytes per entry", fmt.Sprintf("%.0f entries, %.2f MB", entries, entries*k.DenylistEntry/1e6),
		fmt.Sprintf("%.0f bytes per session entry, measured with 100 000 entries", k.DenylistEntry))
	add("shared sessions, for comparison: Redis writes", "U × requests per user-minute / 60 × writes per request", fmt.Sprintf("%.0f writes/s", reqs*k.RedisWritesPerReq),
		fmt.Sprintf("%.2f writes per request measured (scs with an idle timeout); %.0f req/s assumed", k.RedisWritesPerReq, reqs))
	return c
}

package experiment

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/report"
)

// Verdict is one row of the summary.
type Verdict struct {
	Claim, Verdict, Figure string
}

// Verdicts judges each claim of the design against the measurements.
func Verdicts(res *Results) []Verdict {
	var v []Verdict
	rev := res.Revocation[cluster.Waxseal]
	if rev != nil { // the map holds every mode or none
		st := res.Revocation[cluster.Sticky]
		verdict := "held"
		if rev.AcceptedOn < float64(rev.Instances) {
			verdict = "did not hold"
		}
		v = append(v, Verdict{"Any instance can serve any request", verdict,
			fmt.Sprintf("a fresh token was accepted by %.1f of %d instances (sticky sessions: %.1f of %d)", rev.AcceptedOn, rev.Instances, st.AcceptedOn, st.Instances)})
	}
	if pts := res.Scale[cluster.Waxseal]; len(pts) > 1 {
		last := pts[len(pts)-1]
		r := last.ReqPerSec / pts[0].ReqPerSec
		sh := res.Scale[cluster.Shared]
		rs := sh[len(sh)-1].ReqPerSec / sh[0].ReqPerSec
		verdict := "held"
		cond := ""
		switch {
		case r < 1.1 || last.Failed > 0:
			verdict = "did not hold"
		case r < 1.5:
			verdict = "held with a condition"
			cond = "; barely more than one instance"
		}
		if r < 0.5*float64(last.Instances) {
			cond += "; sub-linear on this 2-core machine, where nginx, the load generator and the instances share the cores (see Scale-out)"
		}
		if !res.CPULimited && verdict == "held" {
			verdict, cond = "held with a condition", "; instances limited by GOMAXPROCS=1 only"
		}
		v = append(v, Verdict{"Scales out behind a plain (round-robin) load balancer", verdict,
			fmt.Sprintf("%d → %d instances: %.2f× the requests/s (shared sessions: %.2f×)%s", pts[0].Instances, last.Instances, r, rs, cond)})
	}
	if l := res.Loss[cluster.Waxseal]; l != nil {
		verdict := "held"
		fig := fmt.Sprintf("one of 3 instances killed: %d of %d users had to log in again, %d of %d requests failed", l.ForcedUsers, l.Users, l.Failed, l.After)
		switch {
		case l.ForcedUsers > 0 || l.Refused > 0:
			verdict = "did not hold"
		case l.Failed > 0:
			verdict = "held with a condition"
			fig += " (requests in flight on the killed instance; nginx sent the rest elsewhere)"
		}
		st := res.Loss[cluster.Sticky]
		fig += fmt.Sprintf("; sticky sessions: %d of %d users logged out", st.ForcedUsers, st.Users)
		v = append(v, Verdict{"Loses nobody when an instance dies", verdict, fig})
	}
	var redis, issuer *OutageResult
	for _, o := range res.Outage {
		if o.Mode == cluster.Waxseal && o.Stopped == "Redis" {
			redis = o
		}
		if o.Mode == cluster.Waxseal && o.Stopped == "issuer" {
			issuer = o
		}
	}
	if redis != nil && issuer != nil { // every scenario or none
		verdict := "held with a condition"
		var shared *OutageResult
		for _, o := range res.Outage {
			if o.Mode == cluster.Shared {
				shared = o
			}
		}
		fig := fmt.Sprintf("Redis stopped %s: waxseal answered %.0f req/s throughout, 0 failed (shared sessions: %.0f req/s, %d failed); but the issuer is a shared part: stopped %s, %d API requests failed, %d refresh attempts and %d logins failed",
			redis.Down, float64(redis.AnsweredWhile)/redis.Down.Seconds(), float64(shared.AnsweredWhile)/shared.Down.Seconds(), shared.FailedDuring+shared.FailedAfter,
			issuer.Down, issuer.FailedDuring+issuer.FailedAfter, issuer.RefreshFailed, issuer.LoginFailed)
		if redis.FailedDuring+redis.FailedAfter > 0 || redis.AnsweredWhile == 0 {
			verdict = "did not hold"
		} else if issuer.FailedDuring+issuer.FailedAfter+issuer.RefreshFailed+issuer.LoginFailed == 0 {
			verdict = "held"
		}
		v = append(v, Verdict{"Needs no shared session store", verdict, fig})
	}
	if l := res.Loss[cluster.Waxseal]; l != nil {
		refused := l.RefusedBefore()
		verdict := "held"
		if refused > 0 {
			verdict = "did not hold"
		}
		v = append(v, Verdict{"Needs no sticky routing", verdict,
			fmt.Sprintf("round robin over 3 instances: %d of %d requests refused before the kill", refused, l.Before+refused)})
	}
	if len(res.CSRF) > 0 {
		acted, control, tried := 0, true, 0
		cookieActed := 0
		for _, r := range res.CSRF {
			if strings.HasPrefix(r.Target, "waxseal") {
				tried++
				if r.Acted {
					acted++
				}
				control = control && r.Control
			} else if r.Acted {
				cookieActed++
			}
		}
		verdict := "held"
		switch {
		case !control:
			verdict = "not decided (the legitimate request failed)"
		case acted > 0:
			verdict = "did not hold"
		}
		v = append(v, Verdict{"A cross-site request carries no credential (no CSRF)", verdict,
			fmt.Sprintf("Chromium: %d of %d cross-site attacks acted on the bearer API; %d of %d acted on the cookie apps", acted, tried, cookieActed, len(res.CSRF)-tried)})
	}
	// The sessions' own answers, judged the same way.
	if l := res.Loss[cluster.Shared]; l != nil {
		var out *OutageResult
		for _, o := range res.Outage {
			if o.Mode == cluster.Shared {
				out = o
			}
		}
		verdict, fig := "held", fmt.Sprintf("instance killed: %d of %d users logged out, %d requests failed", l.ForcedUsers, l.Users, l.Failed)
		if l.ForcedUsers > 0 {
			verdict = "did not hold"
		}
		if out != nil {
			fig += fmt.Sprintf("; but with Redis stopped %s it answered %.0f req/s (before: %.0f), %d requests failed", out.Down,
				float64(out.AnsweredWhile)/out.Down.Seconds(), out.AnsweredBefore, out.FailedDuring+out.FailedAfter)
			if verdict == "held" && out.AnsweredWhile < out.Requests/10 {
				verdict = "held with a condition (Redis must stay up)"
			}
		}
		v = append(v, Verdict{"Sessions' answer: a shared Redis store lets any instance serve", verdict, fig})
	}
	if l := res.Loss[cluster.Sticky]; l != nil {
		refused := l.RefusedBefore()
		verdict := "held with a condition (no instance may die)"
		if refused > 0 {
			verdict = "did not hold"
		} else if l.ForcedUsers == 0 {
			verdict = "held"
		}
		v = append(v, Verdict{"Sessions' answer: sticky routing keeps each user on the instance holding the session", verdict,
			fmt.Sprintf("%d requests refused while all instances lived; one killed: %d of %d users logged out, recovered in %.2f s", refused, l.ForcedUsers, l.Users, l.Recover.Seconds())})
	}
	if len(res.CSRF) > 0 {
		with, without, withN, withoutN := 0, 0, 0, 0
		for _, r := range res.CSRF {
			switch {
			case strings.Contains(r.Target, "CSRF token"):
				withN++
				if r.Acted {
					with++
				}
			case strings.Contains(r.Target, "None"):
				withoutN++
				if r.Acted {
					without++
				}
			}
		}
		verdict := "held"
		if with > 0 {
			verdict = "did not hold"
		}
		v = append(v, Verdict{"Sessions' answer: a CSRF token stops cross-site requests", verdict,
			fmt.Sprintf("SameSite=None cookie: %d of %d cross-site attacks acted with the token checked, %d of %d without", with, withN, without, withoutN)})
	}
	if rev != nil {
		sh := res.Revocation[cluster.Shared]
		verdict := "held with a condition"
		if rev.NeverRefused > 0 {
			verdict = "did not hold"
		}
		v = append(v, Verdict{"Revocation reaches every verifier fast (the brief's claim)", verdict,
			fmt.Sprintf("logout until refused on all 3 instances: p50 %s ms, max %s ms through the feed; deleting a shared session: max %s ms",
				ms(rev.P50), ms(rev.Max), ms(sh.Max))})
	}
	return v
}

var summaryHeader = []string{"claim", "verdict", "deciding figure", "run", "started"}

// previousVerdicts reads the verdicts of the last run of the same kind from
// the summary.csv that this run is about to replace.
func previousVerdicts(o Options, kind string) (map[string]string, string) {
	f, err := os.Open(filepath.Join(outDir(o), "summary.csv"))
	if err != nil {
		return nil, ""
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, ""
	}
	out := map[string]string{}
	when := ""
	for _, r := range rows[1:] {
		if len(r) == len(summaryHeader) && r[3] == kind {
			out[r[0]] = r[1]
			when = r[4]
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, when
}

// Write writes PROOF.md into o.Out; the tables and plots are already in
// o.Out/proof.
func Write(o Options, res *Results) error {
	rev := res.Revocation[cluster.Waxseal]
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	table := func(name string) string {
		for _, t := range res.Tables {
			if t.Name == name {
				return t.Markdown() + fmt.Sprintf("\nRaw data: [proof/%s.csv](proof/%s.csv)\n", name, name)
			}
		}
		return "_not run_\n"
	}
	img := func(name, alt string) string {
		return fmt.Sprintf("\n![%s](proof/%s.png)\n\n(SVG: [proof/%s.svg](proof/%s.svg))\n", alt, name, name, name)
	}
	p := res.Params
	w("# Proof: stateless tokens against server sessions, side by side\n\n")
	w("This file is written by the harness in [`proof/`](../proof); do not edit it by hand. Run it again with\n\n")
	w("```\nproof/run            # the full run, about 10 minutes; rewrites this file\n```\n\n")
	w("Run: %s, %s version, %s in all. Machine: %s, shared with other work (one-minute load average as each experiment began: %s; %s at the end), so absolute numbers move from run to run; the comparisons are between modes measured in the same run.\n\n",
		res.Started.Format("2006-01-02 15:04 UTC"), p.Name, res.Elapsed.Round(1e9), res.Machine, strings.Join(res.Loads, ", "), loadAvg())
	verdicts := Verdicts(res)
	prev, prevWhen := previousVerdicts(o, p.Name)
	w("## Summary\n\nOne row per claim of the design. The figure is what decided it.")
	if prev != nil {
		w(" The last column is the previous %s run's verdict (%s), kept in [proof/summary.csv](proof/summary.csv) from run to run: the numbers move with the machine's load, the verdicts should not.", p.Name, prevWhen)
	}
	w("\n\n| claim | verdict | deciding figure |")
	if prev != nil {
		w(" previous run |")
	}
	w("\n|---|---|---|")
	if prev != nil {
		w("---|")
	}
	w("\n")
	rows := [][]string{}
	stamp := res.Started.Format("2006-01-02 15:04 UTC")
	for _, v := range verdicts {
		w("| %s | **%s** | %s |", v.Claim, v.Verdict, v.Figure)
		if prev != nil {
			pv, ok := prev[v.Claim]
			if !ok {
				pv = "–"
			}
			w(" %s |", pv)
		}
		w("\n")
		rows = append(rows, []string{v.Claim, v.Verdict, v.Figure, p.Name, stamp})
	}
	if err := report.WriteCSV(filepath.Join(outDir(o), "summary.csv"), summaryHeader, rows); err != nil {
		return err
	}
	w("\nThe rules (in `experiment.Verdicts`): a claim *held* when no user was logged out, no request refused and no cross-site attack acted where the claim says so, and for scale-out when the largest cluster served at least 1.5 times one instance's requests with none failed (how far from linear, the machine decides: see Scale-out); *held with a condition* when it held only under a condition the figure names (requests in flight on a killed instance, a shared part that must stay up, sub-linear scaling, propagation that is fast but not instant); *did not hold* otherwise.\n")
	if len(res.Failures) > 0 {
		w("\n**Experiments that failed in this run** (their rows above are missing or partial):\n\n")
		for _, f := range res.Failures {
			w("- %s\n", f)
		}
	}
	if res.Costs != nil && rev != nil {
		w("\nWhere waxseal pays: every API request carries its token (%d bytes of header against %d for a session cookie); every user refreshes about %.0f times an hour at the default 10-minute lifetime, each a write transaction at the issuer (%.1f rows); a revocation reaches every instance through the feed (median %s ms, worst %s ms here) where deleting a shared session takes effect at the next request; a token never seen before costs a full signature check; and logins and refreshes need the issuer, which is a shared part like a session store.\n\n",
			res.Costs.CredentialBytes[cluster.Waxseal], res.Costs.CredentialBytes[cluster.Sticky], 3600/(600.0-10), res.Costs.RowsPerRefresh,
			ms(rev.P50), ms(rev.Max))
	}
	w("## Topology\n\nEverything is a real process on loopback, started by the harness:\n\n")
	w("- the waxseal issuer (`waxseal serve`, built from this repository, %s, access tokens for %s), with %d accounts made through `POST /v1/signup`;\n", dbKind(o.Postgres), p.AccessTTL, len(res.Params.ScaleSizes)*0+max(p.LossUsers, p.ScaleUsers, p.OutUsers)+8)
	w("- N instances of the notes API, each with `GOMAXPROCS=1`, sharing one SQLite file of notes, in three modes:\n")
	w("  - **waxseal**: `examples/notes`, the guard middleware; tokens in `Authorization: Bearer`; nginx round robin;\n")
	w("  - **sticky**: the same API with server-side sessions in each instance's memory ([alexedwards/scs](https://github.com/alexedwards/scs) v2, `proof/sessionapp`), a session cookie, nginx `ip_hash`;\n")
	w("  - **shared**: the same with scs's Redis store (goredisstore) on a redis-server of the harness's own, nginx round robin;\n")
	w("- nginx (Debian's package) with a generated configuration, one worker, `max_fails=1 fail_timeout=10s`, `proxy_next_upstream error timeout`, keep-alive to the upstreams;\n")
	w("- simulated users in Go (`proof/load`): each from a loopback address of its own (127.A.B.1, so `ip_hash` and the issuer's per-address limits see distinct clients), logging in, then reading (70%%), adding (20%%) and deleting (10%%) notes with an exponential think time, refreshing the access token 10 s before it expires (as golang.org/x/oauth2 does), and logging in again when a credential is refused.\n\n")
	w("Logins cost the same in every mode: argon2id with waxseal's parameters, at the issuer or in the session app. The session app renews the session token at login and uses scs's idle timeout (30 minutes), so scs rewrites the session on every request, as it is documented to.\n\n")

	w("## Instance loss\n\nThree instances under steady load (%d users, think time %s); once every user has logged in and %s more have passed, one instance is killed with SIGKILL; the run goes on for %s. *Failed* is no answer or a 5xx; *refused* is a 401; *time to recover* is from the kill until the end of the last failed or refused request or forced login.\n\n",
		p.LossUsers, p.LossThink, p.LossWarm, p.LossAfter)
	w("%s%s\n", table("instance-loss"), img("instance-loss", "failed and refused requests per second around the kill, per mode"))
	w("Per-request data of every mode: [proof/instance-loss-requests.csv](proof/instance-loss-requests.csv).\n\n")

	w("## Scale-out\n\nClosed loop: %d users with no think time, after every user has logged in, measured for %s per point; each point is the best of %d rounds, the rounds run one after the other over every size and mode. Each instance runs with GOMAXPROCS=1", p.ScaleUsers, p.ScaleMeasure, p.ScaleRounds)
	if res.CPULimited {
		w(" in a cgroup of its own capped at %.0f%% of one core, so that 4 instances need one core in all and the curve shows the design rather than the 2 shared cores", p.CPUShare*100)
	} else {
		w(" (no writable cgroup on this machine, so instances compete for the 2 cores and the curve flattens early)")
	}
	w(". nginx, Redis and the load generator are not capped. *Instance CPU per request* is the instances' processor time (from /proc) over the answered requests.\n\n")
	w("%s%s%s\n", table("scale-out"), img("scale-out", "requests per second against instances"), img("scale-out-p99", "p99 latency against instances"))
	w("%s\n\n", scaleText(res))
	w("### The authentication check per request\n\nGo benchmarks of the check alone (`testing.Benchmark`, the fastest of %d rounds taken in turn), the same code as `(cd proof && go test -run '^$' -bench AuthCheck -benchmem ./experiment/)` runs (see docs/BENCHMARKS.md):\n\n", p.BenchRounds)
	w("%s%s\n", table("auth-cost"), img("auth-cost", "cost of one authentication check"))

	w("## Shared-store outage\n\nThree instances under steady load (%d users); once every user has logged in and %s more have passed, the shared part is stopped (SIGKILL) for %s and restarted (Redis with its append-only file, so sessions survive the restart; the issuer on the same database). waxseal has no session store, so its fair counterpart is its issuer, stopped the same way.\n\n", p.OutUsers, p.OutWarm, p.OutDown)
	w("%s%s\n", table("outage"), img("outage", "failures per second while the shared part is down"))
	w("Per-request data: [proof/outage-requests.csv](proof/outage-requests.csv).\n\n")
	w("With Redis stopped, every request of the shared-session mode needs the store and fails or waits; the other modes do not use it. waxseal's shared part is the issuer: while it is down no one can log in or refresh (the refresh attempts above), but the guards keep verifying locally, so API requests go on for as long as the tokens users hold stay valid. Here tokens are refreshed %s before they expire, so an outage of %s is ridden out; an outage longer than the time left on a user's token fails that user's requests until the issuer is back, and every login during it fails (no login fell in this window). With the default 10-minute tokens, a client that refreshes earlier (say at half-life) rides out a 5-minute issuer outage. After %s without the feed a guard stops serving (503, fail closed), which no outage here reached.\n\n", p.RefreshAhead, p.OutDown, "`FeedStaleAfter` (1 minute)")

	w("## Revocation\n\nFor each of %d logouts: log in, check that each instance (asked directly, past nginx) accepts the credential, log out (waxseal: `POST /v1/logout` at the issuer; sessions: `POST /logout` through nginx), then ask every instance again and again until each refuses it. The time runs from the logout's answer until the last instance refuses.\n\n", p.RevRounds)
	w("%s%s\n", table("revocation"), img("revocation", "time from logout until refused everywhere"))
	w("A sticky session exists on one instance only: the other instances never accepted it, which is why it is refused everywhere at once, and also why that user is lost with that instance.\n\n")

	w("## CSRF in a real browser\n\nHeadless Chromium (Debian's package, driven with chromedp). The user logs in on the app's own origin (`http://localhost:PORT`; the bearer app keeps its token in `sessionStorage`) and makes one legitimate request from there (the control column: it must act, or the test could not see an attack act). Then a page on another site (`http://evil.attacker.test:PORT`) submits a form POST to `/notes` and sends a `fetch` with `credentials: \"include\"`. *Acted* means the app stored the attacker's note.\n\n")
	if res.CSRFNote != "" {
		w("%s\n\n", res.CSRFNote)
	}
	w("%s%s\n", table("csrf"), img("csrf", "cross-site attacks that acted, per target"))
	w("%s\n\n", csrfText(res))

	w("## What it costs\n\nBytes counted at the load generator's sockets (HTTP/1.1 headers and bodies) over the instance-loss runs; issuer costs from %d logins then %d refreshes one at a time on a quiet issuer (processor time from /proc; rows from PostgreSQL's `pg_stat_database`).\n\n", p.CostRounds, p.CostRounds)
	w("%s%s\n", table("costs"), img("wire", "bytes on the wire per request"))
	w("Requests are larger with waxseal by the token's size; responses are larger with scs because, with an idle timeout, it sends `Set-Cookie` again on every response to push the session's deadline (and writes the session to Redis, the last row). The issuer's CPU per refresh was measured on this loaded machine, so the capacity model below scales an upper figure.\n\n")

	w("## Capacity model: 100 service instances, 10⁶ active users\n\n")
	if c := res.Capacity; c != nil {
		w("Inputs: G = %.0f guarded instances, U = %.0f active users, access-token lifetime TTL = %s refreshed %s early, verifier leeway %s, %.0f issuer instances, %.0f revocation (logout) per user per day, %.0f API requests per user per minute. Per-unit costs come from this run's measurements (last column).\n\n",
			c.Instances, c.Users, c.TTL, c.Ahead, c.Leeway, c.IssuerInstances, c.RevocationsPerUserDay, c.RequestsPerUserMinute)
		w("| quantity | formula | at G = 100, U = 10⁶ | measured input / check against the small run |\n|---|---|---|---|\n")
		for _, r := range c.Rows {
			w("| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
		}
		w("\nThe refresh load is the largest cost waxseal moves to the issuer: it is proportional to U/TTL, so doubling the access-token lifetime halves it, at the price of a longer window for a token whose revocation a verifier has not heard (the feed closes that window while it is connected). The feed's fan-out is proportional to revocations × G, small next to the request rate; each guard holds one SSE connection, so G/I connections per issuer instance. The denylist stays small because an entry lives only until the tokens it matches expire.\n\n")
	}
	w("## Honest limits of this measurement\n\n")
	w("- One machine: the load generator, nginx, Redis, PostgreSQL, the issuer and the instances share 2 cores with other work, so latencies include waiting for a core. The comparisons are side by side in one run; absolute numbers are not what a production cluster would see.\n")
	w("- The session modes authenticate with a cookie that the client sends on every request, as a browser would; the load generator is not a browser. The CSRF experiment is the browser part.\n")
	w("- The issuer here is one process; with PostgreSQL it scales out the same way the API does (see README), which this harness does not measure.\n")
	w("- A token never seen before costs a full signature check (the cold row above); in the load runs each user repeats its token, so the guard's cache answers nearly every request.\n")
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.Out, "PROOF.md"), []byte(b.String()), 0o644)
}

// csrfText says in words what the browser did.
func csrfText(res *Results) string {
	if len(res.CSRF) == 0 {
		return ""
	}
	acted := map[string][]string{}
	var order []string
	for _, r := range res.CSRF {
		if _, ok := acted[r.Target]; !ok {
			order = append(order, r.Target)
			acted[r.Target] = nil
		}
		if r.Acted {
			acted[r.Target] = append(acted[r.Target], r.Attack)
		}
	}
	var parts []string
	for _, t := range order {
		if len(acted[t]) == 0 {
			parts = append(parts, fmt.Sprintf("against *%s* no cross-site request acted", t))
		} else {
			parts = append(parts, fmt.Sprintf("against *%s* these acted: %s", t, strings.Join(acted[t], "; ")))
		}
	}
	return "In this run, " + strings.Join(parts, "; ") + ". " +
		"The bearer API is safe whatever the cookie rules, because the browser has nothing to attach: the token lives in the app's script and goes only where the script sends it. " +
		"A cookie app is as safe as its cookie's SameSite attribute and its CSRF token make it: scs's default, Lax, keeps the cookie off cross-site POSTs; an app that must be reached from other sites needs SameSite=None and then a CSRF token, which the app must check on every state-changing request."
}

// scaleText reads the scale-out table in words.
func scaleText(res *Results) string {
	if len(res.Scale) == 0 {
		return ""
	}
	var parts []string
	for _, m := range cluster.Modes {
		pts := res.Scale[m]
		first, last := pts[0], pts[len(pts)-1]
		parts = append(parts, fmt.Sprintf("%s %.0f → %.0f req/s (%.2f×), %.0f µs of instance CPU per request on one instance",
			m, first.ReqPerSec, last.ReqPerSec, last.ReqPerSec/first.ReqPerSec, float64(first.CPUPerRequest)/1e3))
	}
	return "From " + fmt.Sprint(res.Scale[cluster.Waxseal][0].Instances) + " to " + fmt.Sprint(res.Scale[cluster.Waxseal][len(res.Scale[cluster.Waxseal])-1].Instances) +
		" instances: " + strings.Join(parts, "; ") + ". " +
		"All three modes scale out here, the session modes because their routing (ip_hash) or their store (one Redis) was not yet the bottleneck at this size; " +
		"what differs is the cost per request at the instance, which decides how many instances a load needs: the shared-session mode pays a Redis round trip, a gob decode and a Redis write per request, the sticky mode the gob decode. " +
		"The ratios are below linear because nginx, Redis and the load generator share the two cores with the instances and with other work; the largest cluster's points are the most affected, so a ratio between modes at one size is more telling than a mode's own curve."
}

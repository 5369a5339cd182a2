package experiment

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/denylist"
	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/load"
	"github.com/waxseal/waxseal/proof/report"
	"gonum.org/v1/plot/plotter"
)

// Costs are what each design spends per request and per user.
type Costs struct {
	Wire              map[cluster.Mode]load.Wire
	CredentialBytes   map[cluster.Mode]int // the request header that carries the credential
	RefreshesPerUserH float64              // measured in the waxseal instance-loss run
	RunTTL            time.Duration
	IssuerCPURefresh  time.Duration
	IssuerCPULogin    time.Duration
	RowsPerRefresh    float64 // -1: not measured
	RowsPerLogin      float64
	RedisWritesPerReq float64 // shared mode: SET/DEL/EXPIRE per API request
	RedisCmdsPerReq   float64
	FeedEventBytes    float64
	FeedEvents        int
	JWKSBytes         int
	JWKSMaxAge        time.Duration
	FeedStreams       float64 // issuer's open feed streams with a 3-instance waxseal cluster up
	DenylistEntry     float64 // bytes per sid entry in a guard's denylist
}

func redisCommands(ctx context.Context, env *cluster.Env) (map[string]int64, error) {
	opt, _ := redis.ParseURL(env.Redis.URL())
	c := redis.NewClient(opt)
	defer c.Close()
	s, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		calls := strings.TrimPrefix(strings.Split(rest, ",")[0], "calls=")
		out[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(calls, 10, 64)
	}
	return out, nil
}

func diffCommands(a, b map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range b {
		if v-a[k] > 0 {
			d[k] = v - a[k]
		}
	}
	return d
}

func runCosts(ctx context.Context, env *cluster.Env, o Options, res *Results) error {
	c := &Costs{Wire: map[cluster.Mode]load.Wire{}, CredentialBytes: map[cluster.Mode]int{}, RunTTL: o.AccessTTL, RowsPerRefresh: -1, RowsPerLogin: -1}
	if res.Loss == nil {
		return errors.New("needs the instance-loss runs, which failed")
	}
	for _, m := range cluster.Modes {
		c.Wire[m] = res.Loss[m].Wire
	}
	if l := res.Loss[cluster.Waxseal]; l != nil {
		n := 0
		for _, e := range l.Events {
			if e.Kind == load.Refresh && e.OK() {
				n++
			}
		}
		c.RefreshesPerUserH = float64(n) / float64(l.Users) / l.Duration.Hours()
	}
	if l := res.Loss[cluster.Shared]; l != nil && l.Wire.APIRequests > 0 {
		var w, all int64
		for k, v := range l.RedisCommands {
			all += v
			switch k {
			case "set", "setex", "del", "expire", "pexpire", "psetex":
				w += v
			}
		}
		c.RedisWritesPerReq = float64(w) / float64(l.Wire.APIRequests)
		c.RedisCmdsPerReq = float64(all) / float64(l.Wire.APIRequests)
	}
	if err := issuerCosts(ctx, env, o, c); err != nil {
		return err
	}
	if err := clusterCosts(ctx, env, c); err != nil {
		return err
	}
	c.DenylistEntry = denylistBytes()
	res.Costs = c
	return writeCosts(o, res)
}

// issuerCosts times logins and refreshes one at a time on a quiet issuer:
// its processor time, and the rows PostgreSQL counts as written.
func issuerCosts(ctx context.Context, env *cluster.Env, o Options, c *Costs) error {
	ui := len(env.UserNames) - 1
	settle := func() (cluster.DBWrites, error) {
		if env.Issuer.DBStats == nil {
			return cluster.DBWrites{}, nil
		}
		sleep(ctx, o.StatsSettle)
		return env.Issuer.DBStats(ctx)
	}
	w0, err := settle()
	if err != nil {
		return err
	}
	cpu0 := env.Issuer.CPU()
	var refresh []string
	// Each login from an address of its own, as distinct clients would
	// send them: the issuer allows one address a burst of 50 attempts.
	var clients []*http.Client
	for i := range o.CostRounds {
		clients = append(clients, probe(cluster.UserIP(1000+i)))
	}
	for i := range o.CostRounds {
		cl := clients[i]
		st, _, body, err := status(cl, "POST", env.Issuer.URL+"/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			url.Values{"grant_type": {"password"}, "username": {env.UserNames[ui]}, "password": {env.Password}}.Encode())
		if err != nil || st != 200 {
			return fmt.Errorf("login: %d %v %s", st, err, body)
		}
		refresh = append(refresh, field(body, "refresh_token"))
	}
	cpu1 := env.Issuer.CPU()
	w1, err := settle()
	if err != nil {
		return err
	}
	cpu2 := env.Issuer.CPU()
	for i, rt := range refresh {
		st, _, body, err := status(clients[i], "POST", env.Issuer.URL+"/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
		if err != nil || st != 200 {
			return fmt.Errorf("refresh: %d %v %s", st, err, body)
		}
	}
	cpu3 := env.Issuer.CPU()
	w2, err := settle()
	if err != nil {
		return err
	}
	n := float64(o.CostRounds)
	c.IssuerCPULogin = (cpu1 - cpu0) / time.Duration(o.CostRounds)
	c.IssuerCPURefresh = (cpu3 - cpu2) / time.Duration(o.CostRounds)
	if env.Issuer.DBStats != nil {
		c.RowsPerLogin = float64(w1.RowsWritten-w0.RowsWritten) / n
		c.RowsPerRefresh = float64(w2.RowsWritten-w1.RowsWritten) / n
	}
	return nil
}

func field(body []byte, name string) string {
	s := string(body)
	i := strings.Index(s, `"`+name+`":"`)
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+4:]
	return s[:strings.IndexByte(s, '"')]
}

// clusterCosts reads what a running waxseal cluster costs the issuer: the
// feed streams it holds open, the size of a feed event and of the JWKS, and
// the size of each mode's credential header.
func clusterCosts(ctx context.Context, env *cluster.Env, c *Costs) error {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(env.Issuer.URL + "/jwks.json")
	if err != nil {
		return err
	}
	n := 0
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		n += k
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	c.JWKSBytes = n
	for _, d := range strings.Split(resp.Header.Get("Cache-Control"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			s, _ := strconv.Atoi(v)
			c.JWKSMaxAge = time.Duration(s) * time.Second
		}
	}
	// Five logouts, then the feed as a guard reads it: Server-Sent Events
	// from the start (older entries may already be pruned).
	for i := range 5 {
		pc := probe(cluster.UserIP(1200 + i))
		cred, err := login(pc, env, "", cluster.Waxseal, env.UserNames[len(env.UserNames)-1])
		if err != nil {
			return err
		}
		if st, _, _, err := status(pc, "POST", env.Issuer.URL+"/v1/logout", cred, ""); err != nil || st >= 300 {
			return fmt.Errorf("logout: %d %v", st, err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	req, _ := http.NewRequestWithContext(fctx, "GET", env.Issuer.URL+"/v1/revocations?after=0", nil)
	req.Header.Set("Accept", "text/event-stream")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		sc := bufio.NewScanner(resp.Body)
		bytes, events := 0, 0
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, ":") { // keep-alive comments
				continue
			}
			bytes += len(l) + 1
			if strings.HasPrefix(l, "data:") {
				events++
			}
		}
		resp.Body.Close()
		if events > 0 {
			c.FeedEvents = events
			c.FeedEventBytes = float64(bytes) / float64(events)
		}
	}
	cancel()
	for _, m := range cluster.Modes {
		cc, err := env.StartCluster(ctx, m, cluster.ClusterOptions{Instances: 3})
		if err != nil {
			return err
		}
		pc := probe(cluster.UserIP(len(env.UserNames) - 2))
		cred, err := login(pc, env, cc.LB.URL, m, env.UserNames[len(env.UserNames)-2])
		if err == nil {
			for k, v := range cred {
				c.CredentialBytes[m] = len(k) + 2 + len(v[0]) + 2
			}
		}
		if m == cluster.Waxseal {
			c.FeedStreams = issuerGauge(env, "waxseal_issuer_feed_streams")
		}
		cc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func issuerGauge(env *cluster.Env, name string) float64 {
	_, _, body, err := status(&http.Client{Timeout: 5 * time.Second}, "GET", env.Issuer.MetricsURL+"/metrics", nil, "")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+"{") {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return -1
}

// denylistBytes measures the heap a guard's denylist holds per session
// revocation, with 100,000 entries.
func denylistBytes() float64 {
	const n = 100_000
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	l := fill(n)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(l)
	return (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / n
}

// fill returns a denylist of n session revocations; what it allocated on
// the way is garbage when it returns.
func fill(n int) *denylist.List {
	rs := make([]waxseal.Revocation, n)
	exp := time.Now().Add(time.Hour)
	for i := range rs {
		rs[i] = waxseal.Revocation{Cursor: int64(i + 1), Kind: waxseal.RevokeSession, Value: fmt.Sprintf("%022x", i), Expires: exp, Created: time.Now()}
	}
	l := denylist.New()
	l.Apply(rs...)
	return l
}

func writeCosts(o Options, res *Results) error {
	c := res.Costs
	t := &report.Table{Name: "costs", Header: []string{"cost", "waxseal", "sticky sessions", "shared sessions (Redis)"}}
	per := func(f func(w load.Wire) float64) []any {
		var out []any
		for _, m := range cluster.Modes {
			out = append(out, fmt.Sprintf("%.0f", f(c.Wire[m])))
		}
		return out
	}
	t.Add(append([]any{"credential header, bytes per request"}, c.CredentialBytes[cluster.Waxseal], c.CredentialBytes[cluster.Sticky], c.CredentialBytes[cluster.Shared])...)
	t.Add(append([]any{"request bytes on the wire per API request"}, per(func(w load.Wire) float64 { return float64(w.APIOut) / float64(max(1, w.APIRequests)) })...)...)
	t.Add(append([]any{"response bytes on the wire per API request"}, per(func(w load.Wire) float64 { return float64(w.APIIn) / float64(max(1, w.APIRequests)) })...)...)
	rows := func(v float64) string {
		if v < 0 {
			return "not measured (SQLite)"
		}
		return fmt.Sprintf("%.1f rows", v)
	}
	t.Add("refreshes per user per hour (measured, access TTL "+c.RunTTL.String()+")", fmt.Sprintf("%.0f", c.RefreshesPerUserH), "0", "0")
	t.Add("refreshes per user per hour at the default TTL (10m, refreshed 10 s early)", fmt.Sprintf("%.1f", 3600/(600.0-10)), "0", "0")
	t.Add("issuer CPU per refresh", fmt.Sprintf("%.2f ms", float64(c.IssuerCPURefresh)/1e6), "–", "–")
	t.Add("CPU per login (argon2id, issuer or app)", fmt.Sprintf("%.0f ms", float64(c.IssuerCPULogin)/1e6), "same hash in the app", "same hash in the app")
	t.Add("issuer database writes per refresh", rows(c.RowsPerRefresh), "–", "–")
	t.Add("issuer database writes per login", rows(c.RowsPerLogin), "–", "–")
	t.Add("session-store writes per API request", "0", "0 (memory)", fmt.Sprintf("%.2f Redis writes (%.2f commands)", c.RedisWritesPerReq, c.RedisCmdsPerReq))
	res.Tables = append(res.Tables, t)
	dir := outDir(o)
	if err := t.WriteCSV(dir); err != nil {
		return err
	}
	var out, in plotter.XYs
	var cats []string
	for i, m := range cluster.Modes {
		w := c.Wire[m]
		cats = append(cats, string(m))
		out = append(out, plotter.XY{X: float64(i), Y: float64(w.APIOut) / float64(max(1, w.APIRequests))})
		in = append(in, plotter.XY{X: float64(i), Y: float64(w.APIIn) / float64(max(1, w.APIRequests))})
	}
	return report.Bars(dir, "wire", "Bytes on the wire per API request (HTTP/1.1, client side of nginx)", "bytes per request",
		cats, []report.Series{{Name: "request", XY: out}, {Name: "response", XY: in}})
}

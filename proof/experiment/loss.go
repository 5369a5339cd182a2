package experiment

import (
	"context"
	"fmt"
	"time"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/load"
	"github.com/waxseal/waxseal/proof/report"
	"gonum.org/v1/plot/plotter"
)

// LossResult is one mode's instance-loss run: three instances, one killed
// with SIGKILL under steady load.
type LossResult struct {
	Mode          cluster.Mode
	Users         int
	Kill          time.Duration // when, since the load started
	Before        int           // API requests answered 2xx before the kill
	After         int           // API requests made after the kill
	Failed        int           // after the kill: no answer or 5xx
	Refused       int           // after the kill: 401
	ForcedUsers   int           // users who had to log in again after the kill
	ForcedLogins  int
	Recover       time.Duration // kill until the last failed/refused request or forced login ended
	Events        []load.Event
	Wire          load.Wire
	Duration      time.Duration
	RedisCommands map[string]int64 // shared mode: Redis commands during the run
	InstanceCPU   time.Duration    // processor time of the instances during the run
	LoadBefore    string
}

// runLoss runs the instance-loss experiment in each mode.
func runLoss(ctx context.Context, env *cluster.Env, o Options, res *Results) error {
	all := map[cluster.Mode]*LossResult{}
	for _, m := range cluster.Modes {
		r, err := lossRun(ctx, env, o, m)
		if err != nil {
			return err
		}
		o.Logf("  %s: kill at %s; after it %d requests, %d failed, %d refused, %d users forced to log in, recovered in %s",
			m, r.Kill.Round(time.Millisecond), r.After, r.Failed, r.Refused, r.ForcedUsers, r.Recover.Round(time.Millisecond))
		all[m] = r
	}
	res.Loss = all
	return writeLoss(o, res)
}

func lossRun(ctx context.Context, env *cluster.Env, o Options, m cluster.Mode) (*LossResult, error) {
	c, err := env.StartCluster(ctx, m, cluster.ClusterOptions{Instances: 3})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &LossResult{Mode: m, Users: o.LossUsers, LoadBefore: loadAvg()}
	redis0, _ := redisCommands(ctx, env)
	cpu0 := c.InstanceCPU()
	run := load.Start(ctx, load.Config{
		Mode: m, LB: c.LB.URL, Issuer: env.Issuer.URL, Users: env.UserNames[:o.LossUsers], Password: env.Password,
		Think: o.LossThink, WriteShare: 0.2, DeleteShare: 0.1, RefreshAhead: o.RefreshAhead, Spread: o.LossWarm / 3,
	})
	// Steady load: every user logged in, then the warm-up.
	waitLoggedIn(ctx, run, o.LossUsers, 60*time.Second)
	sleep(ctx, o.LossWarm)
	// The instance to kill is the busiest so far (by processor time): in
	// round robin they are alike; in sticky mode it is the one holding the
	// most users' sessions, so the loss is never an empty instance's.
	victim := c.Instances[0]
	for _, p := range c.Instances[1:] {
		if p.CPU() > victim.CPU() {
			victim = p
		}
	}
	cpuVictim := victim.CPU()
	r.Kill = time.Since(run.Start)
	victim.Kill()
	sleep(ctx, o.LossAfter)
	r.Events = run.Stop()
	r.Duration = time.Since(run.Start)
	r.Wire = run.Wire()
	r.InstanceCPU = c.InstanceCPU() + cpuVictim - cpu0
	if m == cluster.Shared {
		redis1, _ := redisCommands(ctx, env)
		r.RedisCommands = diffCommands(redis0, redis1)
	}
	forced := map[int]bool{}
	for _, e := range r.Events {
		if e.At < r.Kill {
			if e.Kind.API() && e.OK() {
				r.Before++
			}
			continue
		}
		bad := false
		switch {
		case e.Kind == load.Login && e.Forced:
			forced[e.User] = true
			r.ForcedLogins++
			bad = true
		case e.Kind.API():
			r.After++
			if e.Failed() {
				r.Failed++
				bad = true
			} else if e.Status == 401 {
				r.Refused++
				bad = true
			}
		}
		if bad {
			r.Recover = max(r.Recover, e.At+e.Latency-r.Kill)
		}
	}
	r.ForcedUsers = len(forced)
	return r, nil
}

// RefusedBefore counts the API requests refused (401) while every instance
// lived: answered before the kill. A request in flight at the kill that
// nginx passed to another instance is the kill's doing, not routing's.
func (r *LossResult) RefusedBefore() int {
	n := 0
	for _, e := range r.Events {
		if e.At+e.Latency < r.Kill && e.Kind.API() && e.Status == 401 {
			n++
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// timeline counts, per bucket of the time they ended, relative to zero,
// the requests for which bad holds.
func timeline(evs []load.Event, zero, bucket, from, to time.Duration, bad func(load.Event) bool) plotter.XYs {
	n := int((to - from) / bucket)
	xy := make(plotter.XYs, n)
	for i := range xy {
		xy[i].X = (from + time.Duration(i)*bucket).Seconds()
	}
	for _, e := range evs {
		t := e.At + e.Latency - zero
		if t < from || t >= to || !bad(e) {
			continue
		}
		xy[int((t-from)/bucket)].Y++
	}
	for i := range xy {
		xy[i].Y /= bucket.Seconds()
	}
	return xy
}

func badEvent(e load.Event) bool {
	return (e.Kind.API() && (e.Failed() || e.Status == 401)) || (e.Kind == load.Login && e.Forced)
}

func writeLoss(o Options, res *Results) error {
	t := &report.Table{Name: "instance-loss", Header: []string{"mode", "users", "requests after the kill",
		"failed (no answer or 5xx)", "refused (401)", "users forced to log in again", "time to recover (s)"}}
	var raw [][]string
	var series []report.Series
	for _, m := range cluster.Modes {
		r := res.Loss[m]
		t.Add(m, r.Users, r.After, r.Failed, r.Refused, fmt.Sprintf("%d of %d", r.ForcedUsers, r.Users), fmt.Sprintf("%.2f", r.Recover.Seconds()))
		for _, e := range r.Events {
			raw = append(raw, eventRow(string(m), e, r.Kill))
		}
		bucket := 250 * time.Millisecond
		series = append(series, report.Series{Name: string(m),
			XY: timeline(r.Events, r.Kill, bucket, -2*time.Second, o.LossAfter-bucket, badEvent)})
	}
	res.Tables = append(res.Tables, t)
	dir := outDir(o)
	if err := t.WriteCSV(dir); err != nil {
		return err
	}
	if err := report.WriteCSV(dir+"/instance-loss-requests.csv", eventHeader, raw); err != nil {
		return err
	}
	return report.Lines(dir, "instance-loss", "Instance loss: one of 3 instances killed (SIGKILL) at t = 0",
		"time since the kill (s), by the end of each request", "failed or refused requests + forced logins per second", series, false)
}

var eventHeader = []string{"mode", "t_ms_since_event", "latency_ms", "user", "kind", "status", "forced_login"}

func eventRow(mode string, e load.Event, zero time.Duration) []string {
	return []string{mode, fmt.Sprintf("%.1f", float64(e.At-zero)/1e6), fmt.Sprintf("%.3f", float64(e.Latency)/1e6),
		fmt.Sprint(e.User), e.Kind.String(), fmt.Sprint(e.Status), fmt.Sprint(e.Forced)}
}

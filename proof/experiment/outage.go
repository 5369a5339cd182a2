package experiment

import (
	"context"
	"fmt"
	"time"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/load"
	"github.com/waxseal/waxseal/proof/report"
)

// OutageResult is one mode with one shared part stopped for a while under
// steady load.
type OutageResult struct {
	Name            string
	Mode            cluster.Mode
	Stopped         string // "Redis" or "issuer"
	Down            time.Duration
	Start           time.Duration // since the load started
	Requests        int           // API requests from the stop until OutAfter past the restart
	AnsweredWhile   int           // API requests started and answered 2xx while it was stopped
	AnsweredBefore  float64       // 2xx API answers per second over the warm-up, every user logged in
	FailedDuring    int
	FailedAfter     int
	Refused         int
	ForcedUsers     int
	RefreshFailed   int
	LoginFailed     int
	RecoverAfterEnd time.Duration // restart until the last bad request ended; 0 if none after it
	Events          []load.Event
}

func runOutage(ctx context.Context, env *cluster.Env, o Options, res *Results) error {
	scenarios := []struct {
		mode    cluster.Mode
		stopped string
	}{{cluster.Waxseal, "Redis"}, {cluster.Sticky, "Redis"}, {cluster.Shared, "Redis"}, {cluster.Waxseal, "issuer"}}
	var all []*OutageResult
	for _, s := range scenarios {
		r, err := outageRun(ctx, env, o, s.mode, s.stopped)
		if err != nil {
			return err
		}
		o.Logf("  %s: %d requests, %d failed during, %d after, %d refused, %d forced logins, %d refreshes failed, recovered %s after restart",
			r.Name, r.Requests, r.FailedDuring, r.FailedAfter, r.Refused, r.ForcedUsers, r.RefreshFailed, r.RecoverAfterEnd.Round(time.Millisecond))
		all = append(all, r)
	}
	res.Outage = all
	return writeOutage(o, res)
}

func outageRun(ctx context.Context, env *cluster.Env, o Options, m cluster.Mode, stopped string) (*OutageResult, error) {
	c, err := env.StartCluster(ctx, m, cluster.ClusterOptions{Instances: 3})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &OutageResult{Name: fmt.Sprintf("%s, %s stopped", m, stopped), Mode: m, Stopped: stopped, Down: o.OutDown}
	run := load.Start(ctx, load.Config{
		Mode: m, LB: c.LB.URL, Issuer: env.Issuer.URL, Users: env.UserNames[:o.OutUsers], Password: env.Password,
		Think: o.LossThink, WriteShare: 0.2, DeleteShare: 0.1, RefreshAhead: o.RefreshAhead, Spread: o.OutWarm / 3,
	})
	waitLoggedIn(ctx, run, o.OutUsers, 60*time.Second)
	sleep(ctx, o.OutWarm)
	var restart func(context.Context) error
	if stopped == "Redis" {
		env.Redis.Kill()
		restart = env.Redis.Start
	} else {
		env.Issuer.Kill()
		restart = env.Issuer.Restart
	}
	// The outage starts once the process is gone (Kill waits for it).
	r.Start = time.Since(run.Start)
	sleep(ctx, o.OutDown)
	// The outage ends when the restart begins: a request answered after
	// that may have been served by the restarted process.
	end := time.Since(run.Start)
	if err := restart(ctx); err != nil {
		run.Stop()
		return nil, fmt.Errorf("restarting %s: %w", stopped, err)
	}
	sleep(ctx, o.OutAfter)
	r.Events = run.Stop()
	forced := map[int]bool{}
	for _, e := range r.Events {
		if e.At < r.Start {
			if e.Kind.API() && e.OK() && e.At >= r.Start-o.OutWarm {
				r.AnsweredBefore++
			}
			continue
		}
		if e.Kind.API() && e.OK() && e.At+e.Latency < end {
			r.AnsweredWhile++
		}
		bad := false
		switch {
		case e.Kind.API():
			r.Requests++
			if e.Failed() {
				bad = true
				if e.At < end {
					r.FailedDuring++
				} else {
					r.FailedAfter++
				}
			} else if e.Status == 401 {
				r.Refused++
				bad = true
			}
		case e.Kind == load.Refresh && !e.OK():
			r.RefreshFailed++
		case e.Kind == load.Login && !e.OK():
			r.LoginFailed++
			bad = true
		case e.Kind == load.Login && e.Forced:
			forced[e.User] = true
			bad = true
		}
		if bad && e.At+e.Latency > end {
			r.RecoverAfterEnd = max(r.RecoverAfterEnd, e.At+e.Latency-end)
		}
	}
	r.ForcedUsers = len(forced)
	r.AnsweredBefore /= o.OutWarm.Seconds()
	return r, nil
}

func writeOutage(o Options, res *Results) error {
	t := &report.Table{Name: "outage", Header: []string{"mode, what was stopped", "API requests", "answered while stopped (req/s; before: req/s)", "failed while stopped",
		"failed after the restart", "refused (401)", "users forced to log in again", "refresh attempts failed", "logins failed",
		"recovered after the restart (s)"}}
	var raw [][]string
	var series []report.Series
	for _, r := range res.Outage {
		t.Add(r.Name, r.Requests, fmt.Sprintf("%.0f; %.0f", float64(r.AnsweredWhile)/r.Down.Seconds(), r.AnsweredBefore), r.FailedDuring, r.FailedAfter, r.Refused, r.ForcedUsers, r.RefreshFailed, r.LoginFailed,
			fmt.Sprintf("%.2f", r.RecoverAfterEnd.Seconds()))
		for _, e := range r.Events {
			raw = append(raw, eventRow(r.Name, e, r.Start))
		}
		series = append(series, report.Series{Name: r.Name, XY: timeline(r.Events, r.Start, 500*time.Millisecond,
			-2*time.Second, o.OutDown+o.OutAfter-500*time.Millisecond, func(e load.Event) bool {
				return badEvent(e) || (e.Kind != load.Read && e.Kind != load.Write && e.Kind != load.Delete && !e.OK())
			})})
	}
	res.Tables = append(res.Tables, t)
	dir := outDir(o)
	if err := t.WriteCSV(dir); err != nil {
		return err
	}
	if err := report.WriteCSV(dir+"/outage-requests.csv", eventHeader, raw); err != nil {
		return err
	}
	return report.Lines(dir, "outage", fmt.Sprintf("Shared part stopped for %s at t = 0 (3 instances, steady load)", o.OutDown),
		"time since the stop (s), by the end of each request", "failed requests, logins and refreshes per second", series, false)
}

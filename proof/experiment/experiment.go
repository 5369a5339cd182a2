// Package experiment runs the proof's experiments against the real
// topology of package cluster and writes docs/PROOF.md with its tables,
// CSV files and plots.
package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/load"
	"github.com/waxseal/waxseal/proof/report"
)

// Params size the experiments.
type Params struct {
	Name string // "full" or "short"

	AccessTTL    time.Duration // the issuer's access-token lifetime in the load runs
	RefreshAhead time.Duration

	LossUsers           int
	LossThink           time.Duration
	LossWarm, LossAfter time.Duration
	ScaleUsers          int
	ScaleSizes          []int
	ScaleMeasure        time.Duration
	ScaleRounds         int     // each point is the best of this many runs
	CPUShare            float64 // of a core, per instance, in the scale-out runs
	OutUsers            int
	OutWarm, OutDown    time.Duration
	OutAfter            time.Duration
	RevRounds           int
	BenchTime           time.Duration
	BenchRounds         int           // each check keeps its fastest of this many rounds
	CostRounds          int           // refreshes and logins timed one by one for the issuer's cost
	StatsSettle         time.Duration // wait for PostgreSQL's counters to be reported
}

// Full is the run that writes docs/PROOF.md.
func Full() Params {
	return Params{
		Name: "full", AccessTTL: 20 * time.Second, RefreshAhead: 10 * time.Second,
		LossUsers: 90, LossThink: 200 * time.Millisecond, LossWarm: 6 * time.Second, LossAfter: 15 * time.Second,
		ScaleUsers: 12, ScaleSizes: []int{1, 2, 4}, ScaleMeasure: 8 * time.Second, ScaleRounds: 2, CPUShare: 0.1,
		OutUsers: 60, OutWarm: 5 * time.Second, OutDown: 10 * time.Second, OutAfter: 10 * time.Second,
		RevRounds: 30, BenchTime: time.Second, BenchRounds: 3, CostRounds: 100, StatsSettle: 11 * time.Second,
	}
}

// Short is one round of each experiment, in seconds: what CI runs so that
// the harness cannot rot.
func Short() Params {
	return Params{
		Name: "short", AccessTTL: 12 * time.Second, RefreshAhead: 10 * time.Second,
		LossUsers: 6, LossThink: 100 * time.Millisecond, LossWarm: 2 * time.Second, LossAfter: 1500 * time.Millisecond,
		ScaleUsers: 4, ScaleSizes: []int{1, 2}, ScaleMeasure: time.Second, ScaleRounds: 1, CPUShare: 0.25,
		OutUsers: 4, OutWarm: 1500 * time.Millisecond, OutDown: 2 * time.Second, OutAfter: time.Second,
		RevRounds: 2, BenchTime: 50 * time.Millisecond, BenchRounds: 1, CostRounds: 3, StatsSettle: 1500 * time.Millisecond,
	}
}

// Options of a run.
type Options struct {
	Params
	Root     string // the waxseal repository
	Out      string // where PROOF.md goes; CSVs and plots go to Out/proof
	Work     string // scratch directory
	Postgres string // admin URL, or empty for SQLite
	Chromium string // browser binary, or empty to skip the CSRF experiment
	Logf     func(string, ...any)
}

// Results holds every experiment's outcome, for the report and the tests.
type Results struct {
	Params  Params
	Started time.Time
	Elapsed time.Duration
	Machine string

	Loss       map[cluster.Mode]*LossResult
	Scale      map[cluster.Mode][]ScalePoint
	CPULimited bool
	Outage     []*OutageResult
	Revocation map[cluster.Mode]*RevocationResult
	CSRF       []CSRFResult
	CSRFNote   string
	Bench      []BenchResult
	Costs      *Costs
	Capacity   *Capacity
	Tables     []*report.Table
	Loads      []string // the load average as each experiment began
	Failures   []string // experiments that failed, with their errors
}

// Run runs every experiment and writes the report.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	res := &Results{Params: o.Params, Started: time.Now().UTC(), Machine: machine()}
	maxUsers := max(o.LossUsers, o.ScaleUsers, o.OutUsers) + 8
	env, err := cluster.Build(ctx, cluster.Config{Root: o.Root, Dir: o.Work, Users: maxUsers,
		AccessTTL: o.AccessTTL, Postgres: o.Postgres, Logf: o.Logf})
	if err != nil {
		return nil, err
	}
	o.Logf("starting the issuer (%s) and Redis; creating %d accounts", dbKind(o.Postgres), maxUsers)
	if err := env.Start(ctx); err != nil {
		env.Close()
		return nil, err
	}
	defer env.Close()
	steps := []struct {
		name string
		f    func(context.Context, *cluster.Env, Options, *Results) error
	}{
		{"auth-cost benchmarks", runBench},
		{"revocation", runRevocation},
		{"instance loss", runLoss},
		{"scale-out", runScale},
		{"shared-store outage", runOutage},
		{"CSRF in Chromium", runCSRF},
		{"costs", runCosts},
	}
	// An experiment that fails is reported and the others still run: a
	// long run is not thrown away for one broken part.
	var errs []error
	for _, s := range steps {
		o.Logf("experiment: %s (load average %s)", s.name, loadAvg())
		res.Loads = append(res.Loads, s.name+": "+loadAvg())
		t := time.Now()
		if err := s.f(ctx, env, o, res); err != nil {
			o.Logf("experiment: %s FAILED: %v", s.name, err)
			res.Failures = append(res.Failures, fmt.Sprintf("%s: %v", s.name, err))
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		o.Logf("experiment: %s done in %s", s.name, time.Since(t).Round(time.Second))
	}
	res.Capacity = capacity(res)
	res.Elapsed = time.Since(res.Started)
	return res, errors.Join(errs...)
}

func dbKind(pg string) string {
	if pg != "" {
		return "PostgreSQL"
	}
	return "SQLite"
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d cores (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version())
}

// loadAvg is the one-minute load average.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// percentile of sorted durations, p in [0,1].
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func sortedLatencies(evs []load.Event, from, to time.Duration) []time.Duration {
	var d []time.Duration
	for _, e := range evs {
		if e.Kind.API() && e.OK() && e.At >= from && e.At < to {
			d = append(d, e.Latency)
		}
	}
	slices.Sort(d)
	return d
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func waitLoggedIn(ctx context.Context, r *load.Run, n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil && r.LoggedIn() < n {
		time.Sleep(100 * time.Millisecond)
	}
}

func ensureDir(dir string) error { return os.MkdirAll(dir, 0o755) }

func outDir(o Options) string { return filepath.Join(o.Out, "proof") }

// FindRoot finds the waxseal repository from the working directory: the
// nearest directory upwards whose go.mod declares github.com/waxseal/waxseal.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(data)), "module github.com/waxseal/waxseal\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no waxseal repository above the working directory")
		}
		dir = parent
	}
}

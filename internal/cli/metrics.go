package cli

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/postgres"
)

// registerPoolMetrics exports the PostgreSQL connection pool's statistics,
// so that an operator can see when the pool, not the database or the CPU,
// limits the issuer: waxseal_db_pool_waits_total rising means requests
// wait for a connection (raise pool_max_conns in the database URL).
func registerPoolMetrics(reg *prometheus.Registry, db dburl.DB) error {
	pg, ok := db.(*postgres.DB)
	if !ok {
		return nil
	}
	stat := func(f func(postgres.PoolStats) float64) func() float64 {
		return func() float64 { return f(pg.PoolStats()) }
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "waxseal_db_pool_max_conns", Help: "The most connections the PostgreSQL pool holds (pool_max_conns)."},
			stat(func(s postgres.PoolStats) float64 { return float64(s.MaxConns) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "waxseal_db_pool_conns", Help: "Connections the PostgreSQL pool holds now."},
			stat(func(s postgres.PoolStats) float64 { return float64(s.TotalConns) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "waxseal_db_pool_acquired_conns", Help: "Connections in use now."},
			stat(func(s postgres.PoolStats) float64 { return float64(s.AcquiredConns) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "waxseal_db_pool_acquires_total", Help: "Connections taken from the pool."},
			stat(func(s postgres.PoolStats) float64 { return float64(s.Acquires) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "waxseal_db_pool_waits_total", Help: "Connections taken after waiting, because none was idle."},
			stat(func(s postgres.PoolStats) float64 { return float64(s.Waits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "waxseal_db_pool_wait_seconds_total", Help: "Time spent waiting for a connection."},
			stat(func(s postgres.PoolStats) float64 { return s.WaitTime.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "waxseal_db_pool_canceled_waits_total", Help: "Waits for a connection given up (the request ended first)."},
			stat(func(s postgres.PoolStats) float64 { return float64(s.Canceled) })),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

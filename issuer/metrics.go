package issuer

import "github.com/prometheus/client_golang/prometheus"

// metrics are the issuer's Prometheus metrics. Labels have few values each,
// so series stay bounded whatever the traffic.
type metrics struct {
	requests  *prometheus.CounterVec
	logins    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	streams   prometheus.Gauge
	// streamsRefused counts feed streams refused beyond the caps.
	streamsRefused prometheus.Counter
	limited        prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waxseal_issuer_requests_total", Help: "Requests by endpoint and status.",
		}, []string{"endpoint", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waxseal_issuer_logins_total", Help: "Password logins by result.",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waxseal_issuer_refreshes_total", Help: "Refresh-token exchanges by outcome: rotated, replayed (retry inside the grace window), reused (theft: session revoked), inactive.",
		}, []string{"outcome"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "waxseal_issuer_feed_streams", Help: "Open revocation feed streams.",
		}),
		streamsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waxseal_issuer_feed_streams_refused_total", Help: "Revocation feed streams refused (503) because too many were open, in all or from one address.",
		}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waxseal_issuer_rate_limited_total", Help: "Attempts refused by a brute-force limit (429).",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.logins, m.refreshes, m.streams, m.streamsRefused, m.limited,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

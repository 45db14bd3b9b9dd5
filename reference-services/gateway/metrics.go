package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus series, on a registry of its own so that two
// gateways in one process (as in tests) never share counters.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	retries     *prometheus.CounterVec
	breaker     *prometheus.GaugeVec
	rateLimited prometheus.Counter
	latency     *prometheus.HistogramVec
}

// Breaker states as the gateway_breaker_state gauge reports them.
const (
	breakerClosedValue   = 0
	breakerHalfOpenValue = 1
	breakerOpenValue     = 2
)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_requests_total",
			Help: "Calls to /api/, by target service and the status code the client got (499: client went away; service is empty for calls refused before routing: 400, 401).",
		}, []string{"service", "code"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_attempts_total",
			Help: "Attempts sent to instances, by service, instance and outcome (ok, http_error, timeout, conn_error, canceled).",
		}, []string{"service", "instance", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_retries_total",
			Help: "Attempts beyond the first, by service.",
		}, []string{"service"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_breaker_state",
			Help: "Circuit breaker state per instance: 0 closed, 1 half-open, 2 open.",
		}, []string{"service", "instance"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_rate_limited_total",
			Help: "Calls refused with 429 because their key's token bucket was empty.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_upstream_duration_seconds",
			Help:    "Duration of one attempt on one instance, answer body included, by service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"service"}),
	}
	m.reg.MustRegister(m.requests, m.attempts, m.retries, m.breaker, m.rateLimited, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

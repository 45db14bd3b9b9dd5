package registry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the registry's Prometheus metrics, on a Prometheus registry of its own so
// that two registries in one process (as in tests) never collide.
type metrics struct {
	reg             *prometheus.Registry
	registrations   *prometheus.CounterVec
	deregistrations *prometheus.CounterVec
	evictions       *prometheus.CounterVec
	heartbeats      *prometheus.CounterVec
}

func newMetrics(r *Registry) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registry_registrations_total",
			Help: "Register requests granted, per service (new, changed or renewed).",
		}, []string{"service"}),
		deregistrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registry_deregistrations_total",
			Help: "Instances removed by a deregister request, per service.",
		}, []string{"service"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registry_evictions_total",
			Help: "Instances evicted because their lease lapsed, per service.",
		}, []string{"service"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registry_heartbeats_total",
			Help: "Heartbeats per service and result: ok (renewed) or unknown (answered 404).",
		}, []string{"service", "result"}),
	}
	m.reg.MustRegister(
		m.registrations, m.deregistrations, m.evictions, m.heartbeats,
		instancesCollector{r},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "registry_watchers",
			Help: "Blocking queries waiting for a change.",
		}, func() float64 { return float64(r.watchers.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "registry_index",
			Help: "The registry's global index: it grows by one on every change.",
		}, func() float64 { return float64(r.currentIndex()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instancesCollector reports the live instances per service from the registry's state
// at scrape time, so that no code path has to keep a gauge in step.
type instancesCollector struct{ r *Registry }

var instancesDesc = prometheus.NewDesc("registry_instances",
	"Live instances per service (0 for a service that had some).", []string{"service"}, nil)

func (c instancesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- instancesDesc }

func (c instancesCollector) Collect(ch chan<- prometheus.Metric) {
	for service, n := range c.r.counts(time.Now()) {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(n), service)
	}
}

// Package metrics exposes kaifuku's Prometheus metrics: notifications by
// type and final status, recovery and task durations, Lua task errors and API
// requests. Each Metrics has its own registry (no global state).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// Metrics holds the collectors.
type Metrics struct {
	Registry      *prometheus.Registry
	notifications *prometheus.CounterVec
	recovery      *prometheus.HistogramVec
	tasks         *prometheus.HistogramVec
	luaErrors     *prometheus.CounterVec
	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
}

// New registers every collector on a new registry, with the Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kaifuku_notifications_total", Help: "Notifications processed, by type and final status.",
	}, []string{"type", "status"})
	m.recovery = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kaifuku_recovery_duration_seconds", Help: "Time from claiming a notification to its final status, by type.",
		Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
	}, []string{"type"})
	m.tasks = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kaifuku_task_duration_seconds", Help: "Duration of task executions, by task and result.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600},
	}, []string{"task", "result"})
	m.luaErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kaifuku_lua_task_errors_total", Help: "Lua task executions that failed, by task.",
	}, []string{"task"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kaifuku_api_requests_total", Help: "API requests, by route and status code.",
	}, []string{"route", "code"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kaifuku_api_request_duration_seconds", Help: "API request latency, by route.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1},
	}, []string{"route"})
	m.Registry.MustRegister(m.notifications, m.recovery, m.tasks, m.luaErrors, m.requests, m.requestTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Notification records a notification's final status and recovery time.
func (m *Metrics) Notification(typ, status string, d time.Duration) {
	m.notifications.WithLabelValues(typ, status).Inc()
	m.recovery.WithLabelValues(typ).Observe(d.Seconds())
}

// Request records an API request.
func (m *Metrics) Request(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.requestTime.WithLabelValues(route).Observe(d.Seconds())
}

// OnEvent records task durations and Lua errors (an engine.Listener); the
// event's TaskKind tells a Lua task from a Go one.
func (m *Metrics) OnEvent(e engine.Event) {
	switch e.Type {
	case engine.TaskSucceeded:
		m.tasks.WithLabelValues(e.Task, "success").Observe(e.Duration.Seconds())
	case engine.TaskFailed:
		m.tasks.WithLabelValues(e.Task, "failure").Observe(e.Duration.Seconds())
		if e.TaskKind == "lua" {
			m.luaErrors.WithLabelValues(e.Task).Inc()
		}
	}
}

// Package metrics exposes kaifuku's Prometheus metrics: notifications by
// type and final status, the stored notifications by type and status,
// recovery and task durations, Lua task errors, notifications the storm
// guard held, fencing failures, API requests, Nova calls,
// the outcome of the last configuration load and the build. Each Metrics has
// its own registry (no global state).
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/buildinfo"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
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
	novaCalls     *prometheus.CounterVec
	novaTime      *prometheus.HistogramVec
	reloadOK      prometheus.Gauge
	reloadTime    prometheus.Gauge
	stormHeld     prometheus.Counter
	fenceFailures *prometheus.CounterVec
	computeUp     prometheus.Gauge
}

// New registers every collector on a new registry, with the Go and process
// collectors and the build information of this binary.
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
	m.novaCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kaifuku_nova_calls_total", Help: "Compute (Nova) operations called, retries included, by operation and outcome.",
	}, []string{"operation", "outcome"})
	m.novaTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kaifuku_nova_call_duration_seconds", Help: "Duration of compute (Nova) operations, retries included, by operation.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"operation"})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kaifuku_config_last_reload_successful", Help: "Whether the last configuration load (the start or a reload) succeeded: 1 or 0.",
	})
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kaifuku_config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully, in seconds since the epoch.",
	})
	m.stormHeld = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kaifuku_storm_held_total", Help: "Host notifications the storm guard held because too many hosts of their segment failed at once.",
	})
	m.fenceFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kaifuku_fencing_failures_total", Help: "Failed runs of fence_host_task (the host was not recovered), by host.",
	}, []string{"host"})
	m.computeUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kaifuku_compute_available", Help: "Whether the compute backend (Keystone and Nova) has been reached: 1, or 0 while the engine waits for it.",
	})
	info := buildinfo.Read()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kaifuku_build_info", Help: "Always 1; the labels say which build of kaifuku is running.",
		ConstLabels: prometheus.Labels{"version": info.Version, "goversion": info.GoVersion, "revision": info.Revision},
	})
	build.Set(1)
	m.Registry.MustRegister(m.notifications, m.recovery, m.tasks, m.luaErrors, m.requests, m.requestTime,
		m.novaCalls, m.novaTime, m.reloadOK, m.reloadTime, m.stormHeld, m.fenceFailures, m.computeUp, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format. A collector that
// fails (the database behind kaifuku_notifications) leaves its metrics out of
// the scrape and the others are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, ErrorHandling: promhttp.ContinueOnError})
}

// Loaded records the outcome of a configuration load, the start's or a
// reload's, at time at: a failure leaves the time of the last success.
func (m *Metrics) Loaded(ok bool, at time.Time) {
	if !ok {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadTime.Set(float64(at.UnixNano()) / 1e9)
}

// ComputeAvailable records whether the compute backend has been reached.
func (m *Metrics) ComputeAvailable(ok bool) {
	if ok {
		m.computeUp.Set(1)
		return
	}
	m.computeUp.Set(0)
}

// CountStored registers the gauge kaifuku_notifications{status,type} of the
// stored notifications, which count reads at every scrape (so every engine
// sharing a database reports the same numbers). Call it once.
func (m *Metrics) CountStored(count func(context.Context) ([]db.NotificationCount, error)) {
	m.Registry.MustRegister(&storedCollector{count: count, desc: prometheus.NewDesc("kaifuku_notifications",
		"Stored notifications, by status and type.", []string{"status", "type"}, nil)})
}

// storedCollector reads the stored notifications' counts at scrape time.
type storedCollector struct {
	count func(context.Context) ([]db.NotificationCount, error)
	desc  *prometheus.Desc
}

// Notification types and statuses a scrape reports even when none is
// stored, so that a rule on a status sees 0 rather than no series.
var (
	notificationTypes    = []string{"COMPUTE_HOST", "PROCESS", "VM"}
	notificationStatuses = []string{engine.StatusNew, engine.StatusRunning, engine.StatusError, engine.StatusFailed, engine.StatusIgnored, engine.StatusFinished}
)

// scrapeTimeout bounds the count query of one scrape.
const scrapeTimeout = 5 * time.Second

func (c *storedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *storedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("counting the stored notifications: %w", err))
		return
	}
	type key struct{ status, typ string }
	n := map[key]int{}
	for _, t := range notificationTypes {
		for _, s := range notificationStatuses {
			n[key{s, t}] = 0
		}
	}
	for _, cnt := range counts {
		n[key{cnt.Status, cnt.Type}] += cnt.N
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(v), k.status, k.typ)
	}
}

// Notification records a notification's final status and recovery time.
func (m *Metrics) Notification(typ, status string, d time.Duration) {
	m.notifications.WithLabelValues(typ, status).Inc()
	m.recovery.WithLabelValues(typ).Observe(d.Seconds())
	if status == engine.StatusHeld {
		m.stormHeld.Inc()
	}
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
		if e.Task == fence.TaskName {
			host, _ := e.Store[engine.KeyHostName].(string)
			m.fenceFailures.WithLabelValues(host).Inc()
		}
	}
}

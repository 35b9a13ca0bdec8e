package controller

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/agentline/agentline/pkg/queue"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// Metrics are the controller's Prometheus metrics.
type Metrics struct {
	Registry    *prometheus.Registry
	QueueDepth  prometheus.Gauge
	ActiveRuns  *prometheus.GaugeVec
	SlotsUsed   *prometheus.GaugeVec
	SlotsFree   *prometheus.GaugeVec
	RunDuration *prometheus.HistogramVec
	GitHubCalls *prometheus.CounterVec
	Deliveries  *prometheus.CounterVec
}

// NewMetrics registers the metrics in a new registry (with Go and process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry:   prometheus.NewRegistry(),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "agentline_queue_depth", Help: "Runs waiting in the queue."}),
		ActiveRuns: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentline_active_runs", Help: "Started, unfinished runs by kind."}, []string{"kind"}),
		SlotsUsed:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentline_slots_used", Help: "Slots taken per pool (repository and env)."}, []string{"pool"}),
		SlotsFree:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentline_slots_free", Help: "Slots free per pool (repository and env)."}, []string{"pool"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentline_run_duration_seconds", Help: "Run duration from start to completion by kind and outcome.",
			Buckets: []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}}, []string{"kind", "outcome"}),
		GitHubCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentline_github_api_calls_total", Help: "GitHub API calls by endpoint and status code."}, []string{"endpoint", "code"}),
		Deliveries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentline_webhook_deliveries_total", Help: "Webhook deliveries by entry point and outcome."}, []string{"source", "outcome"}),
	}
	m.Registry.MustRegister(m.QueueDepth, m.ActiveRuns, m.SlotsUsed, m.SlotsFree, m.RunDuration, m.GitHubCalls, m.Deliveries,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// ObservePlan updates the queue gauges from a plan.
func (m *Metrics) ObservePlan(p queue.Plan, maxSlots func(pool string) int) {
	m.QueueDepth.Set(float64(len(p.Waiting)))
	m.ActiveRuns.Reset()
	for kind, n := range p.Active {
		m.ActiveRuns.WithLabelValues(kind).Set(float64(n))
	}
	m.SlotsUsed.Reset()
	m.SlotsFree.Reset()
	for pool, n := range p.SlotsUsed {
		m.SlotsUsed.WithLabelValues(pool).Set(float64(n))
		m.SlotsFree.WithLabelValues(pool).Set(float64(max(maxSlots(pool)-n, 0)))
	}
}

// ObserveFinished records the duration of a run that just finished.
func (m *Metrics) ObserveFinished(pr *v1.PipelineRun) {
	run, ok := queue.FromPipelineRun(pr)
	if !ok || run.Phase != queue.PhaseDone || pr.Status.StartTime == nil || pr.Status.CompletionTime == nil {
		return
	}
	m.RunDuration.WithLabelValues(run.Kind, run.Outcome).Observe(pr.Status.CompletionTime.Sub(pr.Status.StartTime.Time).Seconds())
}

var (
	numberSeg = regexp.MustCompile(`^[0-9]+$`)
	shaSeg    = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Endpoint returns the templated endpoint of a GitHub API request, e.g.
// "PATCH /repos/{owner}/{repo}/issues/comments/{id}" (owner, repo, numbers and shas replaced,
// the /api/v3 prefix of GitHub Enterprise dropped).
func Endpoint(method, path string) string {
	path = strings.TrimPrefix(path, "/api/v3")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		switch {
		case segs[0] == "repos" && i == 1:
			segs[i] = "{owner}"
		case segs[0] == "repos" && i == 2:
			segs[i] = "{repo}"
		case (segs[0] == "users" && i == 1) || (i > 0 && segs[i-1] == "collaborators"):
			segs[i] = "{user}"
		case numberSeg.MatchString(s):
			segs[i] = "{id}"
		case shaSeg.MatchString(s):
			segs[i] = "{sha}"
		}
	}
	return method + " /" + strings.Join(segs, "/")
}

// countingTransport counts GitHub API calls by endpoint and status.
type countingTransport struct {
	base    http.RoundTripper
	counter *prometheus.CounterVec
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.counter.WithLabelValues(Endpoint(req.Method, req.URL.Path), code).Inc()
	return resp, err
}

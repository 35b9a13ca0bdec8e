package controller

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/agentline/agentline/test/fakegithub"
)

// BenchmarkWebhookDecision measures the direct endpoint on loopback: signature check, parse,
// route, trust (cached permission) and PipelineRun create (fake Tekton clientset), and reports
// decisions/s and the p50/p99 latency.
func BenchmarkWebhookDecision(b *testing.B) {
	h := start(b, nil)
	client := &http.Client{Timeout: 10 * time.Second}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	begin := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := h.gh.Deliver(context.Background(), h.url, repo, fakegithub.Webhook{Fixture: "issues.labeled", Secret: hookSecret, Client: client,
			DeliveryID: fmt.Sprintf("b%07d-0000-4000-8000-000000000000", i),
			Overrides:  map[string]any{"issue.number": 1 + i%3, "label.name": "[ai-dev]", "sender.login": "alice", "sender.type": "User"}})
		if err != nil || res.StatusCode != http.StatusAccepted {
			b.Fatalf("delivery %d: %v %v", i, err, res)
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(begin)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/el.Seconds(), "decisions/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

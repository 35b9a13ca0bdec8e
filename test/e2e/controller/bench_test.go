package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// BenchmarkEntryPoints sends the same kind of deliveries through the direct endpoint
// (signature + parse + route + trust + create against the local API server) and through the
// Triggers EventListener (core github interceptor + agentline ClusterInterceptor +
// TriggerTemplate), and reports decisions/s of each, their ratio, and the event →
// PipelineRun-created latency p50/p99 of each path (the EventListener answers before it
// creates, so its creation is observed with a watch).
func BenchmarkEntryPoints(b *testing.B) {
	w := newWorld(b, 3, nil)
	c := w.startController()
	elNS := w.env.Namespace(b)
	elURL := w.triggersPath(b, c, elNS)
	ctx := context.Background()
	client := &http.Client{Timeout: 30 * time.Second}
	n := b.N

	// Direct: creation is synchronous, so the answer's latency is event → created.
	direct := make([]time.Duration, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wh := labelDev(1+i%3, fmt.Sprintf("d%07d-0000-4000-8000-000000000000", i))
		wh.Secret, wh.Client = hookSecret, client
		t0 := time.Now()
		res, err := w.gh.Deliver(ctx, c.url, repo, wh)
		if err != nil || res.StatusCode != http.StatusAccepted {
			b.Fatalf("direct delivery %d: %v %+v", i, err, res)
		}
		direct = append(direct, time.Since(t0))
	}
	directRate := float64(n) / time.Since(start).Seconds()

	// EventListener: watch for the created runs.
	wt, err := w.env.Tekton.TektonV1().PipelineRuns(elNS).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer wt.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range wt.ResultChan() {
			if pr, ok := ev.Object.(*v1.PipelineRun); ok && ev.Type == watch.Added {
				mu.Lock()
				created[pr.Labels["agentline.dev/delivery"]] = time.Now()
				full := len(created) == n
				mu.Unlock()
				if full {
					return
				}
			}
		}
	}()
	sent := map[string]time.Time{}
	start = time.Now()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("e%07d-0000-4000-8000-000000000000", i)
		wh := labelDev(1+i%3, id)
		wh.Secret, wh.Client = hookSecret, client
		sent[id] = time.Now()
		res, err := w.gh.Deliver(ctx, elURL, repo, wh)
		if err != nil || res.StatusCode/100 != 2 {
			b.Fatalf("EventListener delivery %d: %v %+v", i, err, res)
		}
	}
	// Deliveries the EventListener accepted but created no run for (its interceptor calls time
	// out under load) are reported, not waited for forever.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	var el []time.Duration
	var last time.Time
	for id, t := range sent {
		if c, ok := created[id]; ok {
			el = append(el, c.Sub(t))
			if c.After(last) {
				last = c
			}
		}
	}
	if len(el) == 0 {
		b.Fatalf("the EventListener created none of %d runs", n)
	}
	elRate := float64(len(el)) / last.Sub(start).Seconds()
	b.ReportMetric(float64(n-len(el)), "el-lost")
	dp50, dp99 := percentiles(direct)
	ep50, ep99 := percentiles(el)
	b.ReportMetric(directRate, "direct-decisions/s")
	b.ReportMetric(elRate, "el-decisions/s")
	b.ReportMetric(directRate/elRate, "direct/el")
	b.ReportMetric(float64(dp50.Milliseconds()), "direct-p50-ms")
	b.ReportMetric(float64(dp99.Milliseconds()), "direct-p99-ms")
	b.ReportMetric(float64(ep50.Milliseconds()), "el-p50-ms")
	b.ReportMetric(float64(ep99.Milliseconds()), "el-p99-ms")
}

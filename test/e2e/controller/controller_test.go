package controller_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/test/fakegithub"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"knative.dev/pkg/apis"
)

// TestAIDevLabelRunsOnceAndReports: `[ai-dev]` on issue 7 → one Pending PipelineRun, started by
// the queue, Succeeded on kwok; the sticky comment goes queued → running → succeeded; the same
// delivery again creates nothing.
func TestAIDevLabelRunsOnceAndReports(t *testing.T) {
	w := newWorld(t, 7, nil)
	w.pipeline("ai-dev", "2s")
	c := w.startController()
	const delivery = "7e2e0000-0000-4000-8000-000000000007"
	if res := w.deliver(c, labelDev(7, delivery)); res.StatusCode != http.StatusAccepted {
		t.Fatalf("delivery: %d %s", res.StatusCode, res.Body)
	}
	w.eventually(45*time.Second, "the run to succeed", func() bool {
		prs := w.runs()
		return len(prs) == 1 && succeeded(&prs[0]) && prs[0].Labels[runs.LabelState] == "succeeded"
	})
	pr := w.runs()[0]
	if pr.Name != router.RunName("ai-dev", delivery) || pr.Labels[runs.LabelIssue] != "7" || pr.Spec.PipelineRef.Name != "ai-dev" {
		t.Fatalf("run %s labels %v", pr.Name, pr.Labels)
	}
	if res := w.deliver(c, labelDev(7, delivery)); res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), "duplicate") {
		t.Fatalf("redelivery: %d %s", res.StatusCode, res.Body)
	}
	if n := len(w.runs()); n != 1 {
		t.Fatalf("%d runs after the redelivery, want 1", n)
	}
	w.eventually(15*time.Second, "the succeeded comment", func() bool {
		cs := w.gh.Comments(repo, 7)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "succeeded")
	})
	cs := w.gh.Comments(repo, 7)
	var seen []string
	for _, rev := range cs[0].Revisions {
		for _, s := range []string{"queued", "running", "succeeded"} {
			if strings.Contains(rev, "is "+s) || strings.Contains(rev, s+".") {
				seen = append(seen, s)
			}
		}
	}
	if strings.Join(seen, ",") != "queued,running,succeeded" {
		t.Fatalf("comment revisions went %v, want queued,running,succeeded:\n%s", seen, strings.Join(cs[0].Revisions, "\n---\n"))
	}
}

// TestTwelveIssuesFourSlotsSurviveRestart: twelve `[ai-dev]` issues with max-slots 4 → four run
// while eight wait; runs start first in first out; the controller restarts while some wait; all
// twelve complete.
func TestTwelveIssuesFourSlotsSurviveRestart(t *testing.T) {
	w := newWorld(t, 12, map[string]string{"max-slots": "4"})
	w.pipeline("ai-dev", "6s")
	c := w.startController()
	for n := 1; n <= 12; n++ {
		if res := w.deliver(c, labelDev(n, fakegithub.NewDeliveryID())); res.StatusCode != http.StatusAccepted {
			t.Fatalf("issue %d: %d %s", n, res.StatusCode, res.Body)
		}
	}
	maxActive, maxWaiting := 0, 0
	check := func() []v1.PipelineRun {
		prs := w.runs()
		active, waiting := 0, 0
		for i := range prs {
			pr := &prs[i]
			switch {
			case pr.IsPending():
				waiting++
			case !done(pr):
				active++
				// FIFO: no run starts while a run created in an earlier second still waits.
				// (Creation timestamps have second precision: within one second the queue
				// orders by name, and a run created later in that second may sort first
				// after an older one already started.)
				for j := 0; j < i; j++ {
					if prs[j].IsPending() && prs[j].CreationTimestamp.Before(&pr.CreationTimestamp) {
						t.Fatalf("%s started while the older %s waits: %s", pr.Name, prs[j].Name, states(prs))
					}
				}
			}
		}
		if active > 4 {
			t.Fatalf("%d runs active with max-slots 4: %s", active, states(prs))
		}
		maxActive, maxWaiting = max(maxActive, active), max(maxWaiting, waiting)
		return prs
	}
	w.eventually(30*time.Second, "four active and eight waiting", func() bool {
		check()
		return maxActive == 4 && maxWaiting >= 8
	})
	// Restart while some wait.
	w.eventually(30*time.Second, "a moment with runs still waiting", func() bool {
		prs := check()
		return prs[len(prs)-1].IsPending()
	})
	c.stop()
	c = w.startController()
	w.eventually(55*time.Second, "all twelve to complete", func() bool {
		prs := check()
		for i := range prs {
			if !succeeded(&prs[i]) {
				return false
			}
		}
		return len(prs) == 12
	})
	_ = c
}

// TestCloseCancelsActiveRunThenCleans: closing an issue whose run is active cancels the run and
// queues `cleanup`, which starts once the cancelled run has ended.
func TestCloseCancelsActiveRunThenCleans(t *testing.T) {
	w := newWorld(t, 7, nil)
	w.pipeline("ai-dev", "120s")
	w.pipeline("cleanup", "100ms")
	c := w.startController()
	w.deliver(c, labelDev(7, fakegithub.NewDeliveryID()))
	w.eventually(30*time.Second, "ai-dev started", func() bool {
		prs := w.runs()
		return len(prs) == 1 && prs[0].HasStarted()
	})
	res := w.deliver(c, fakegithub.Webhook{Fixture: "issues.opened", Event: "issues", Overrides: map[string]any{
		"action": "closed", "issue.state": "closed", "issue.number": 7, "sender.login": "alice", "sender.type": "User",
		"issue.labels": []any{map[string]any{"name": "[ai-dev]"}}}})
	if res.StatusCode != http.StatusAccepted || !strings.Contains(string(res.Body), "ai-dev-") {
		t.Fatalf("close: %d %s", res.StatusCode, res.Body)
	}
	w.eventually(45*time.Second, "ai-dev cancelled and cleanup succeeded", func() bool {
		var dev, cleanup *v1.PipelineRun
		prs := w.runs()
		for i := range prs {
			switch prs[i].Spec.PipelineRef.Name {
			case "ai-dev":
				dev = &prs[i]
			case "cleanup":
				cleanup = &prs[i]
			}
		}
		if dev == nil || cleanup == nil {
			return false
		}
		if !done(dev) && cleanup.HasStarted() {
			t.Fatalf("cleanup started while ai-dev was still active: %s", states(prs))
		}
		c := dev.Status.GetCondition(apis.ConditionSucceeded)
		return done(dev) && c.IsFalse() && strings.Contains(c.Reason, "Cancelled") && succeeded(cleanup)
	})
}

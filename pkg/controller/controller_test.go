package controller

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/queue"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/test/fakegithub"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonfake "github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

const (
	sysNS      = "agentline-system"
	repo       = "acme/shop"
	hookSecret = "hook-secret-value"
)

type harness struct {
	t      testing.TB
	gh     *fakegithub.Server
	kube   *kubefake.Clientset
	tekton *tektonfake.Clientset
	c      *Controller
	url    string
}

func start(t testing.TB, data map[string]string) *harness {
	t.Helper()
	s := fakegithub.New(t)
	s.CreateRepo(repo, fakegithub.RepoOptions{})
	s.AddUser("alice")
	s.SetPermission(repo, "alice", "write")
	tok := s.AddUser("agentline-bot")
	s.SetPermission(repo, "agentline-bot", "write")
	for n := 1; n <= 3; n++ {
		s.AddIssue(repo, fakegithub.Issue{Number: n, Title: fmt.Sprintf("issue %d", n)})
	}
	cm := map[string]string{"allowed-users": "alice", "github-url": s.APIURL(), "max-slots": "2", "run-namespace": sysNS}
	for k, v := range data {
		cm[k] = v
	}
	h := &harness{t: t, gh: s, tekton: tektonfake.NewSimpleClientset(),
		kube: kubefake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: DefaultConfigName, Namespace: sysNS}, Data: cm})}
	c, err := New(Options{Kube: h.kube, Tekton: h.tekton, GitHubToken: tok, WebhookSecret: hookSecret, StatusInterval: -1, Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(c.WebhookHandler())
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.eventually("configuration loaded", func() bool { return c.Ready() && c.store.Generation() > 0 })
	return h
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) label(issue int, delivery string) *fakegithub.DeliveryResult {
	h.t.Helper()
	res, err := h.gh.Deliver(context.Background(), h.url, repo, fakegithub.Webhook{Fixture: "issues.labeled", Secret: hookSecret, DeliveryID: delivery,
		Overrides: map[string]any{"issue.number": issue, "label.name": "[ai-dev]", "sender.login": "alice", "sender.type": "User"}})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) runs() []v1.PipelineRun {
	l, err := h.tekton.TektonV1().PipelineRuns(sysNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return l.Items
}

func (h *harness) byIssue(issue int) *v1.PipelineRun {
	for _, pr := range h.runs() {
		if pr.Labels[runs.LabelIssue] == fmt.Sprint(issue) {
			return &pr
		}
	}
	return nil
}

func (h *harness) succeed(pr *v1.PipelineRun) {
	h.t.Helper()
	now := metav1.Now()
	pr = pr.DeepCopy()
	pr.Status.StartTime, pr.Status.CompletionTime = &now, &now
	pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue, Reason: "Succeeded"}}}
	pr.Status.Results = []v1.PipelineRunResult{{Name: "pr-url", Value: *v1.NewStructuredValues("https://example/pull/1")}}
	if _, err := h.tekton.TektonV1().PipelineRuns(sysNS).UpdateStatus(context.Background(), pr, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// TestWebhookQueueStatus drives the wired controller end to end with fake clusters: signed
// deliveries create Pending runs, the queue starts two of three (max-slots 2), a redelivery is
// a duplicate, a finished run lets the third start, and issue 1's sticky comment goes queued or
// running → succeeded in one comment.
func TestWebhookQueueStatus(t *testing.T) {
	h := start(t, nil)
	ids := []string{"d0000000-0000-4000-8000-000000000001", "d0000000-0000-4000-8000-000000000002", "d0000000-0000-4000-8000-000000000003"}
	for i, id := range ids {
		res := h.label(i+1, id)
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("issue %d: %d %s", i+1, res.StatusCode, res.Body)
		}
	}
	if res := h.label(1, ids[0]); res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), "duplicate") {
		t.Fatalf("redelivery: %d %s", res.StatusCode, res.Body)
	}
	if n := len(h.runs()); n != 3 {
		t.Fatalf("%d runs, want 3", n)
	}
	h.eventually("two runs started, one waiting", func() bool {
		started, waiting := 0, 0
		for _, pr := range h.runs() {
			switch {
			case pr.Spec.Status == "" && pr.Labels[runs.LabelState] == queue.StateRunning:
				started++
			case pr.Spec.Status == v1.PipelineRunSpecStatusPending:
				waiting++
			}
		}
		return started == 2 && waiting == 1
	})
	if p := h.byIssue(3); p.Spec.Status != v1.PipelineRunSpecStatusPending {
		t.Fatalf("issue 3 (newest) should wait, status %q", p.Spec.Status)
	}
	h.eventually("issue 3 told its queue position", func() bool {
		cs := h.gh.Comments(repo, 3)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "queued (position 1)")
	})
	h.succeed(h.byIssue(1))
	h.eventually("issue 3 started", func() bool { return h.byIssue(3).Spec.Status == "" })
	h.eventually("issue 1 comment succeeded", func() bool {
		cs := h.gh.Comments(repo, 1)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "succeeded") && strings.Contains(cs[0].Body, "https://example/pull/1")
	})
	cs := h.gh.Comments(repo, 1)
	if len(cs) != 1 {
		t.Fatalf("%d comments on issue 1", len(cs))
	}
	last := cs[0].Revisions[len(cs[0].Revisions)-1]
	if !strings.Contains(cs[0].Revisions[0], "agentline") || !strings.Contains(last, "succeeded") || len(cs[0].Revisions) < 2 {
		t.Fatalf("revisions %q", cs[0].Revisions)
	}
	if got := h.byIssue(1).Labels[runs.LabelState]; got != queue.StateSucceeded {
		h.eventually("issue 1 labelled succeeded", func() bool { return h.byIssue(1).Labels[runs.LabelState] == queue.StateSucceeded })
	}
	for _, c := range cs[0].Revisions {
		if strings.Contains(c, hookSecret) {
			t.Fatal("webhook secret in a comment")
		}
	}

	// Metrics: a GitHub call counted by endpoint and the webhook outcomes.
	rec := httptest.NewRecorder()
	h.c.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`agentline_webhook_deliveries_total{outcome="created",source="webhook"} 3`,
		`agentline_webhook_deliveries_total{outcome="duplicate",source="webhook"} 1`,
		`agentline_github_api_calls_total{code="200",endpoint="GET /repos/{owner}/{repo}/collaborators/{user}/permission"} 1`,
		`agentline_queue_depth`, `agentline_slots_used{pool="acme/shop ai"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestConfigChangeAppliesWithoutRestart raises max-slots in the ConfigMap: the waiting run
// starts without a new controller.
func TestConfigChangeAppliesWithoutRestart(t *testing.T) {
	h := start(t, map[string]string{"max-slots": "1"})
	h.eventually("max-slots 1", func() bool { return h.c.Config().MaxSlots == 1 })
	h.label(1, "e0000000-0000-4000-8000-000000000001")
	h.label(2, "e0000000-0000-4000-8000-000000000002")
	h.eventually("one started", func() bool { return h.byIssue(1) != nil && h.byIssue(1).Spec.Status == "" })
	if h.byIssue(2).Spec.Status != v1.PipelineRunSpecStatusPending {
		t.Fatal("issue 2 started with one slot taken")
	}
	cm, err := h.kube.CoreV1().ConfigMaps(sysNS).Get(context.Background(), DefaultConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["max-slots"] = "oops"
	if _, err := h.kube.CoreV1().ConfigMaps(sysNS).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("invalid config rejected", func() bool { return h.c.store.Err() != nil })
	if h.c.Config().MaxSlots != 1 {
		t.Fatal("invalid config replaced the good one")
	}
	cm.Data["max-slots"] = "2"
	if _, err := h.kube.CoreV1().ConfigMaps(sysNS).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("max-slots 2", func() bool { return h.c.Config().MaxSlots == 2 })
	// No run changes and the periodic resync is an hour away: the config change itself makes
	// the queue look again.
	h.eventually("issue 2 started", func() bool { return h.byIssue(2).Spec.Status == "" })
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v3/repos/acme/shop/issues/7/comments":                    "POST /repos/{owner}/{repo}/issues/{id}/comments",
		"/repos/acme/shop/collaborators/alice/permission":              "POST /repos/{owner}/{repo}/collaborators/{user}/permission",
		"/repos/a/b/statuses/0123456789abcdef0123456789abcdef01234567": "POST /repos/{owner}/{repo}/statuses/{sha}",
		"/user": "POST /user",
	} {
		if got := Endpoint("POST", in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigFromMap(t *testing.T) {
	c := DefaultConfig()
	if c.MaxSlots != 4 || c.KeepRuns != 5 || c.Runs.Namespace != sysNS || c.Router.Language != "en" {
		t.Fatalf("defaults %+v", c)
	}
	for key, bad := range map[string]string{KeyMaxSlots: "0", KeyKeepRuns: "x", KeyDashboardURL: "ftp://x", KeyGitHubURL: "not a url", "language": "de"} {
		if _, err := ConfigFromMap(map[string]string{key: bad}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: err %v should name the key", key, bad, err)
		}
	}
}

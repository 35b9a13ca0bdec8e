// Package controller_test runs agentline's controller in-process against the local stack
// (real API server, Tekton controller, kwok node) and the GitHub fake.
package controller_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/controller"
	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/test/fakegithub"
	"github.com/agentline/agentline/test/stack"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

const (
	repo       = "acme/shop"
	hookSecret = "e2e-webhook-secret"
	// kwokDelay is the pod annotation of the local stack's kwok stage that delays a TaskRun
	// pod's completion.
	kwokDelay = "tekton-pod-complete.stage.kwok.x-k8s.io/delay"
)

type world struct {
	t     testing.TB
	env   *stack.Env
	ns    string
	gh    *fakegithub.Server
	token string
}

// newWorld makes a namespace (used as the system and the run namespace), the ConfigMap, and the
// GitHub fake with repo acme/shop, user alice (write) and issues 1..n.
func newWorld(t testing.TB, issues int, cfg map[string]string) *world {
	t.Helper()
	env := stack.Get(t)
	w := &world{t: t, env: env, ns: env.KwokNamespace(t), gh: fakegithub.New(t)}
	w.gh.CreateRepo(repo, fakegithub.RepoOptions{})
	w.gh.AddUser("alice")
	w.gh.SetPermission(repo, "alice", "write")
	w.token = w.gh.AddUser("agentline-bot")
	w.gh.SetPermission(repo, "agentline-bot", "write")
	for n := 1; n <= issues; n++ {
		w.gh.AddIssue(repo, fakegithub.Issue{Number: n, Title: fmt.Sprintf("issue %d", n), Labels: []string{"[ai-dev]"}})
	}
	data := map[string]string{"allowed-users": "alice", "github-url": w.gh.APIURL(), "run-namespace": w.ns, "workspaces": "[]", "max-slots": "4"}
	for k, v := range cfg {
		data[k] = v
	}
	ctx := context.Background()
	if _, err := env.Kube.CoreV1().ConfigMaps(w.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: controller.DefaultConfigName}, Data: data}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return w
}

// pipeline creates a stand-in Pipeline named like an agentline pipeline: every agentline param,
// one task whose kwok pod completes after delay.
func (w *world) pipeline(name, delay string) {
	w.t.Helper()
	var params v1.ParamSpecs
	for _, p := range router.ParamNames {
		params = append(params, v1.ParamSpec{Name: p, Type: v1.ParamTypeString, Default: v1.NewStructuredValues("")})
	}
	p := &v1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PipelineSpec{
		Params: params,
		Tasks: []v1.PipelineTask{{Name: "work", TaskSpec: &v1.EmbeddedTask{
			Metadata: v1.PipelineTaskMetadata{Annotations: map[string]string{kwokDelay: delay}},
			TaskSpec: v1.TaskSpec{Steps: []v1.Step{{Name: "run", Image: "busybox", Script: "true"}}},
		}}},
	}}
	if _, err := w.env.Tekton.TektonV1().Pipelines(w.ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// running is one in-process controller.
type running struct {
	c    *controller.Controller
	url  string
	stop func()
}

func (w *world) startController() *running {
	w.t.Helper()
	c, err := controller.New(controller.Options{Kube: w.env.Kube, Tekton: w.env.Tekton, SystemNamespace: w.ns,
		GitHubToken: w.token, WebhookSecret: hookSecret, StatusInterval: -1, Resync: 2 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil && ctx.Err() == nil {
			w.t.Errorf("controller: %v", err)
		}
	}()
	srv := httptest.NewServer(c.WebhookHandler())
	r := &running{c: c, url: srv.URL}
	var stopped bool
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		cancel()
		<-done
	}
	w.t.Cleanup(r.stop)
	w.eventually(10*time.Second, "controller ready", c.Ready)
	return r
}

func (w *world) deliver(r *running, wh fakegithub.Webhook) *fakegithub.DeliveryResult {
	w.t.Helper()
	wh.Secret = hookSecret
	res, err := w.gh.Deliver(context.Background(), r.url, repo, wh)
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

func labelDev(issue int, delivery string) fakegithub.Webhook {
	return fakegithub.Webhook{Fixture: "issues.labeled", DeliveryID: delivery,
		Overrides: map[string]any{"issue.number": issue, "label.name": "[ai-dev]", "sender.login": "alice", "sender.type": "User"}}
}

func (w *world) eventually(timeout time.Duration, what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runs lists the namespace's agentline runs, oldest first.
func (w *world) runs() []v1.PipelineRun {
	w.t.Helper()
	l, err := w.env.Tekton.TektonV1().PipelineRuns(w.ns).List(context.Background(), metav1.ListOptions{LabelSelector: runs.LabelKind})
	if err != nil {
		w.t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := l.Items[i].CreationTimestamp, l.Items[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return l.Items[i].Name < l.Items[j].Name
	})
	return l.Items
}

func succeeded(pr *v1.PipelineRun) bool {
	return pr.Status.GetCondition(apis.ConditionSucceeded).IsTrue()
}

func done(pr *v1.PipelineRun) bool { return pr.IsDone() }

func states(prs []v1.PipelineRun) string {
	var out []string
	for _, pr := range prs {
		c := pr.Status.GetCondition(apis.ConditionSucceeded)
		reason := ""
		if c != nil {
			reason = c.Reason
		}
		out = append(out, fmt.Sprintf("%s[%s spec=%q state=%s]", pr.Name, reason, pr.Spec.Status, pr.Labels[runs.LabelState]))
	}
	return strings.Join(out, " ")
}

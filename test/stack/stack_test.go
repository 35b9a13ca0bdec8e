package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"

	"github.com/agentline/agentline/test/fakegithub"
	"github.com/agentline/agentline/test/shared"
	"github.com/agentline/agentline/test/stack"
)

// twoTaskPipeline creates Tasks "produce" (result out) and "consume" (param in, result echo) and a
// Pipeline "relay" whose second task consumes the first one's result.
func twoTaskPipeline(t *testing.T, env *stack.Env, ns string) {
	t.Helper()
	ctx := context.Background()
	step := []pipelinev1.Step{{Name: "run", Image: "busybox", Script: "true"}}
	produce := &pipelinev1.Task{ObjectMeta: metav1.ObjectMeta{Name: "produce"}, Spec: pipelinev1.TaskSpec{
		Results: []pipelinev1.TaskResult{{Name: "out", Type: pipelinev1.ResultsTypeString}}, Steps: step}}
	consume := &pipelinev1.Task{ObjectMeta: metav1.ObjectMeta{Name: "consume"}, Spec: pipelinev1.TaskSpec{
		Params: []pipelinev1.ParamSpec{{Name: "in", Type: pipelinev1.ParamTypeString}}, Steps: step}}
	pipe := &pipelinev1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "relay"}, Spec: pipelinev1.PipelineSpec{
		Tasks: []pipelinev1.PipelineTask{
			{Name: "first", TaskRef: &pipelinev1.TaskRef{Name: "produce"}},
			{Name: "second", TaskRef: &pipelinev1.TaskRef{Name: "consume"}, Params: pipelinev1.Params{{
				Name: "in", Value: *pipelinev1.NewStructuredValues("$(tasks.first.results.out)")}}},
		},
		Results: []pipelinev1.PipelineResult{{Name: "relayed", Value: *pipelinev1.NewStructuredValues("$(tasks.first.results.out)")}},
	}}
	for _, task := range []*pipelinev1.Task{produce, consume} {
		if _, err := env.Tekton.TektonV1().Tasks(ns).Create(ctx, task, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Tekton.TektonV1().Pipelines(ns).Create(ctx, pipe, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func runPipeline(t *testing.T, env *stack.Env, ns string, annotations map[string]string) *pipelinev1.PipelineRun {
	t.Helper()
	pr := &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "relay-", Annotations: annotations},
		Spec:       pipelinev1.PipelineRunSpec{PipelineRef: &pipelinev1.PipelineRef{Name: "relay"}},
	}
	pr, err := env.Tekton.TektonV1().PipelineRuns(ns).Create(context.Background(), pr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return waitPipelineRunDone(t, env, ns, pr.Name, 90*time.Second)
}

func waitPipelineRunDone(t *testing.T, env *stack.Env, ns, name string, timeout time.Duration) *pipelinev1.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pr, err := env.Tekton.TektonV1().PipelineRuns(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c := pr.Status.GetCondition(apis.ConditionSucceeded); c != nil && !c.IsUnknown() {
			return pr
		}
		if time.Now().After(deadline) {
			t.Fatalf("PipelineRun %s/%s not done after %s: %+v", ns, name, timeout, pr.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func taskRunFor(t *testing.T, env *stack.Env, ns, pr, pipelineTask string) *pipelinev1.TaskRun {
	t.Helper()
	trs, err := env.Tekton.TektonV1().TaskRuns(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: fmt.Sprintf("tekton.dev/pipelineRun=%s,tekton.dev/pipelineTask=%s", pr, pipelineTask)})
	if err != nil {
		t.Fatal(err)
	}
	if len(trs.Items) != 1 {
		t.Fatalf("want 1 TaskRun for %s/%s, got %d", pr, pipelineTask, len(trs.Items))
	}
	return &trs.Items[0]
}

func TestPipelineResultFlowsToNextTask(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	twoTaskPipeline(t, env, ns)
	value := "v-" + strings.ReplaceAll(ns, "t-", "")
	pr := runPipeline(t, env, ns, stack.FakeResults(map[string]map[string]string{"first": {"out": value}}))

	if c := pr.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Fatalf("PipelineRun not Succeeded: %s: %s", c.Reason, c.Message)
	}
	second := taskRunFor(t, env, ns, pr.Name, "second")
	if got := second.Spec.Params[0].Value.StringVal; got != value {
		t.Errorf("second task got param in=%q, want the first task's result %q", got, value)
	}
	if len(pr.Status.Results) != 1 || pr.Status.Results[0].Value.StringVal != value {
		t.Errorf("pipeline results = %+v, want relayed=%q", pr.Status.Results, value)
	}
}

func TestFailureAnnotationFailsChosenTask(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	twoTaskPipeline(t, env, ns)
	ann := stack.FakeResults(map[string]map[string]string{"first": {"out": "x"}})
	for k, v := range stack.FailTask("second", 3) {
		ann[k] = v
	}
	pr := runPipeline(t, env, ns, ann)

	if c := pr.Status.GetCondition(apis.ConditionSucceeded); !c.IsFalse() {
		t.Fatalf("PipelineRun should fail, got %+v", c)
	}
	if c := taskRunFor(t, env, ns, pr.Name, "first").Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Errorf("first task should succeed, got %s: %s", c.Reason, c.Message)
	}
	second := taskRunFor(t, env, ns, pr.Name, "second")
	if c := second.Status.GetCondition(apis.ConditionSucceeded); !c.IsFalse() {
		t.Fatalf("second task should fail, got %+v", c)
	}
	if len(second.Status.Steps) == 0 || second.Status.Steps[0].Terminated == nil || second.Status.Steps[0].Terminated.ExitCode != 3 {
		t.Errorf("second task's step should exit 3, got %+v", second.Status.Steps)
	}
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	ctx := context.Background()
	one := int32(2)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "example.invalid/web:1"}}}},
	}}
	if _, err := env.Kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && got.Status.AvailableReplicas == 2 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Deployment not Available after 60s: %+v", got.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestSignedPushThroughEventListener(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	ctx := context.Background()
	const secret = "s3cret-webhook"
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github-webhook"},
		StringData: map[string]string{"token": secret}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, err := stack.DecodeYAML([]byte(fmt.Sprintf(`
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: push, namespace: %[1]s}
spec:
  params:
  - {name: sha, value: $(body.after)}
  - {name: repo, value: $(body.repository.full_name)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: push, namespace: %[1]s}
spec:
  params: [{name: sha}, {name: repo}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata:
      generateName: push-
      labels: {agentline.dev/sha: $(tt.params.sha)}
      annotations: {agentline.dev/repo: $(tt.params.repo)}
    spec:
      pipelineRef: {name: relay}
      status: PipelineRunPending
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: smoke, namespace: %[1]s}
spec:
  triggers:
  - name: push
    interceptors:
    - ref: {name: github, kind: ClusterInterceptor}
      params:
      - name: secretRef
        value: {secretName: github-webhook, secretKey: token}
      - name: eventTypes
        value: [push]
    bindings: [{ref: push}]
    template: {ref: push}
`, ns)))
	if err != nil {
		t.Fatal(err)
	}
	ap, err := stack.NewApplier(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := ap.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	url := env.StartEventListener(t, ns, "smoke")
	body := shared.Webhook(t, "push")

	post := func(secret string) {
		t.Helper()
		res, err := fakegithub.Deliver(ctx, url, fakegithub.Webhook{Fixture: "push", Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode/100 != 2 {
			t.Fatalf("EventListener answered %d: %s", res.StatusCode, res.Body)
		}
	}
	list := func() []pipelinev1.PipelineRun {
		prs, err := env.Tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return prs.Items
	}

	// A wrong signature is answered (Triggers replies before interceptors run) but creates nothing.
	post("wrong-secret")
	post(secret)
	deadline := time.Now().Add(30 * time.Second)
	for len(list()) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	// Give the rejected delivery the same time to (wrongly) create a run.
	time.Sleep(2 * time.Second)
	prs := list()
	if len(prs) != 1 {
		t.Fatalf("want exactly 1 PipelineRun (from the correctly signed delivery), got %d", len(prs))
	}
	var payload struct {
		After      string `json:"after"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	mustJSON(t, body, &payload)
	if got := prs[0].Labels["agentline.dev/sha"]; got != payload.After {
		t.Errorf("PipelineRun sha label = %q, want %q", got, payload.After)
	}
	if prs[0].Spec.Status != pipelinev1.PipelineRunSpecStatusPending {
		t.Errorf("PipelineRun should be created Pending, got %q", prs[0].Spec.Status)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

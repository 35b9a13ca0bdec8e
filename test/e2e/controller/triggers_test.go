package controller_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/test/stack"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestTriggersPathCreatesSameRun delivers one event to the direct endpoint and, with the same
// delivery id, to an EventListener (core github interceptor + the agentline ClusterInterceptor
// served by the same controller + triggers/'s TriggerBinding and TriggerTemplate) in another
// namespace: both create the same PipelineRun (name, pipeline, labels, annotations, params,
// Pending).
func TestTriggersPathCreatesSameRun(t *testing.T) {
	w := newWorld(t, 7, nil)
	c := w.startController()
	elNS := w.env.KwokNamespace(t)
	ctx := context.Background()
	url := w.triggersPath(t, c, elNS)

	const delivery = "7e2e0000-0000-4000-8000-00000000a1b2"
	wh := labelDev(7, delivery)
	if res := w.deliver(c, wh); res.StatusCode != http.StatusAccepted {
		t.Fatalf("direct: %d %s", res.StatusCode, res.Body)
	}
	wh.Secret = hookSecret
	res, err := w.gh.Deliver(ctx, url, repo, wh)
	if err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("EventListener: %v %+v", err, res)
	}
	var viaEL *v1.PipelineRun
	w.eventually(30*time.Second, "the EventListener's PipelineRun", func() bool {
		l, err := w.env.Tekton.TektonV1().PipelineRuns(elNS).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return false
		}
		viaEL = &l.Items[0]
		return true
	})
	direct := w.runs()
	if len(direct) != 1 {
		t.Fatalf("%d direct runs", len(direct))
	}
	d := &direct[0]
	if viaEL.Name != d.Name || viaEL.Spec.PipelineRef.Name != d.Spec.PipelineRef.Name || viaEL.Spec.Status != v1.PipelineRunSpecStatusPending {
		t.Fatalf("EventListener run %s (%s, %q), direct %s (%s)", viaEL.Name, viaEL.Spec.PipelineRef.Name, viaEL.Spec.Status, d.Name, d.Spec.PipelineRef.Name)
	}
	for _, k := range []string{runs.LabelRepo, runs.LabelIssue, runs.LabelKind, runs.LabelDelivery} {
		if viaEL.Labels[k] != d.Labels[k] {
			t.Errorf("label %s: EventListener %q, direct %q", k, viaEL.Labels[k], d.Labels[k])
		}
	}
	for _, k := range []string{runs.AnnotationKey, runs.AnnotationRepo} {
		if viaEL.Annotations[k] != d.Annotations[k] {
			t.Errorf("annotation %s: EventListener %q, direct %q", k, viaEL.Annotations[k], d.Annotations[k])
		}
	}
	params := func(pr *v1.PipelineRun) map[string]string {
		m := map[string]string{}
		for _, p := range pr.Spec.Params {
			m[p.Name] = p.Value.StringVal
		}
		return m
	}
	if a, b := params(viaEL), params(d); !reflect.DeepEqual(a, b) {
		t.Errorf("params differ:\nEventListener %v\ndirect        %v", a, b)
	}
}

// triggersPath installs, in ns, the webhook Secret, triggers/'s TriggerBinding and
// TriggerTemplate, a ClusterInterceptor pointing at c's interceptor endpoint and an
// EventListener chaining the core github interceptor and it; it returns the sink's URL.
func (w *world) triggersPath(t testing.TB, c *running, ns string) string {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(c.c.InterceptorHandler())
	t.Cleanup(srv.Close)
	if _, err := w.env.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "agentline-github-webhook"},
		StringData: map[string]string{"secret": hookSecret}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var docs bytes.Buffer
	for _, f := range []string{"triggerbinding.yaml", "triggertemplate.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "triggers", f))
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
		docs.WriteString("\n---\n")
	}
	ci := "agentline-" + ns
	fmt.Fprintf(&docs, `apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata: {name: %[1]s}
spec:
  clientConfig: {url: "%[2]s/interceptor"}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: agentline-github}
spec:
  triggers:
  - name: github
    interceptors:
    - ref: {name: github, kind: ClusterInterceptor}
      params:
      - name: secretRef
        value: {secretName: agentline-github-webhook, secretKey: secret}
      - name: eventTypes
        value: [push, issues, issue_comment, pull_request, pull_request_review, ping]
    - ref: {name: %[1]s, kind: ClusterInterceptor}
    bindings: [{ref: agentline-route}]
    template: {ref: agentline-run}
`, ci, srv.URL)
	objs, err := stack.DecodeYAML(docs.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ap, err := stack.NewApplier(w.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "ClusterInterceptor" {
			o.SetNamespace(ns)
		}
		if err := ap.Apply(ctx, o); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	t.Cleanup(func() {
		gvr := schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1alpha1", Resource: "clusterinterceptors"}
		_ = w.env.Dynamic.Resource(gvr).Delete(context.Background(), ci, metav1.DeleteOptions{})
	})
	return w.env.StartEventListener(t, ns, "agentline-github")
}

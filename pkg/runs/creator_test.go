package runs

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/router"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ktesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestCreateAndDuplicate(t *testing.T) {
	ctx := context.Background()
	client := fake.NewSimpleClientset()
	c := &Creator{Tekton: client}
	route := reviewRoute(t)
	name, dup, err := c.Create(ctx, route)
	if err != nil || dup || name != "ai-dev-review-"+delivery {
		t.Fatalf("first create: %q %v %v", name, dup, err)
	}
	got, err := client.TektonV1().PipelineRuns("agentline-system").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Build(route, DefaultConfig())
	if !reflect.DeepEqual(got.Spec, want.Spec) || !reflect.DeepEqual(got.Labels, want.Labels) {
		t.Fatalf("stored run differs from Build:\n%+v\n%+v", got.Spec, want.Spec)
	}
	// The same delivery again (GitHub redelivery) is a duplicate, not a second run.
	name2, dup, err := c.Create(ctx, routeFrom(t, "pull_request_review.submitted.json", delivery, map[string]any{
		"review.state": "changes_requested", "pull_request.head": map[string]any{
			"ref": "codex/issue-7", "sha": "abc123", "repo": map[string]any{"full_name": "Codertocat/Hello-World"}}}))
	if err != nil || !dup || name2 != name {
		t.Fatalf("redelivery: %q %v %v", name2, dup, err)
	}
	list, _ := client.TektonV1().PipelineRuns("").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 1 {
		t.Fatalf("%d runs, want 1", len(list.Items))
	}
}

func TestCreateConfigNamespaceAndError(t *testing.T) {
	ctx := context.Background()
	client := fake.NewSimpleClientset()
	cfg := DefaultConfig()
	cfg.Namespace = "team-a"
	c := &Creator{Tekton: client, Config: func() Config { return cfg }}
	name, _, err := c.Create(ctx, reviewRoute(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.TektonV1().PipelineRuns("team-a").Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Fatalf("run not in configured namespace: %v", err)
	}
	client.PrependReactor("create", "pipelineruns", func(ktesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "tekton.dev", Resource: "pipelineruns"}, "x", errors.New("no"))
	})
	_, dup, err := c.Create(ctx, routeFrom(t, "push.with-new-branch.json", "other-delivery", nil))
	if err == nil || dup || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "staging-deploy-other-delivery") {
		t.Fatalf("forbidden create: dup %v err %v", dup, err)
	}
}

// seed returns a PipelineRun of the issue-1 key (or another key) in a given condition.
func seed(name, key string, created int, cond corev1.ConditionStatus, started bool, specStatus v1.PipelineRunSpecStatus) *v1.PipelineRun {
	pr := &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "agentline-system",
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, created, 0, 0, time.UTC)),
			Labels: map[string]string{LabelRepo: "Codertocat.Hello-World", LabelKind: "ai-dev", LabelIssue: "1",
				LabelState: "x", LabelDelivery: "d-" + name, "tekton.dev/pipeline": "ai-dev"},
			Annotations: map[string]string{AnnotationKey: key, AnnotationRepo: "Codertocat/Hello-World", "other": "x"},
		},
		Spec: v1.PipelineRunSpec{
			PipelineRef: &v1.PipelineRef{Name: "ai-dev"},
			Status:      specStatus,
			Params: v1.Params{
				{Name: "issue", Value: *v1.NewStructuredValues("1")},
				{Name: "sender", Value: *v1.NewStructuredValues("old-sender")},
				{Name: "delivery", Value: *v1.NewStructuredValues("d-" + name)},
			},
		},
	}
	if cond != "" {
		pr.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: cond}}
	}
	if started {
		now := metav1.NewTime(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC))
		pr.Status.StartTime = &now
	}
	return pr
}

const key1 = "Codertocat/Hello-World#1"

func TestCancel(t *testing.T) {
	ctx := context.Background()
	client := fake.NewSimpleClientset(
		seed("queued", key1, 1, "", false, v1.PipelineRunSpecStatusPending),
		seed("running", key1, 2, corev1.ConditionUnknown, true, ""),
		seed("done", key1, 3, corev1.ConditionTrue, true, ""),
		seed("failed", key1, 4, corev1.ConditionFalse, true, ""),
		seed("cancelling", key1, 5, corev1.ConditionUnknown, true, v1.PipelineRunSpecStatusCancelled),
		seed("other-key", "Codertocat/Hello-World#11", 6, corev1.ConditionUnknown, true, ""),
	)
	c := &Creator{Tekton: client}
	route := routeFrom(t, "issue_comment.created.json", "dlv", map[string]any{"comment.body": "/cancel"})
	got, err := c.Cancel(ctx, route)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, []string{"queued", "running"}) {
		t.Fatalf("cancelled %v, want [queued running]", got)
	}
	want := map[string]v1.PipelineRunSpecStatus{
		"queued": v1.PipelineRunSpecStatusCancelled, "running": v1.PipelineRunSpecStatusCancelledRunFinally,
		"done": "", "failed": "", "cancelling": v1.PipelineRunSpecStatusCancelled, "other-key": "",
	}
	for name, status := range want {
		pr, err := client.TektonV1().PipelineRuns("agentline-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pr.Spec.Status != status {
			t.Errorf("%s: spec.status %q, want %q", name, pr.Spec.Status, status)
		}
	}
	// Nothing left to cancel.
	if again, err := c.Cancel(ctx, route); err != nil || len(again) != 0 {
		t.Fatalf("second cancel: %v %v", again, err)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	client := fake.NewSimpleClientset(
		seed("failed-old", key1, 1, corev1.ConditionFalse, true, ""),
		seed("failed-new", key1, 3, corev1.ConditionFalse, true, ""),
		seed("succeeded", key1, 4, corev1.ConditionTrue, true, ""),
		seed("other-failed", "Codertocat/Hello-World#11", 5, corev1.ConditionFalse, true, ""),
	)
	c := &Creator{Tekton: client}
	route := routeFrom(t, "issue_comment.created.json", "retry-dlv", map[string]any{"comment.body": "/retry"})
	name, dup, err := c.Retry(ctx, route)
	if err != nil || dup || name != router.RunName("ai-dev", "retry-dlv") {
		t.Fatalf("retry: %q %v %v", name, dup, err)
	}
	pr, err := client.TektonV1().PipelineRuns("agentline-system").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Annotations[AnnotationRetryOf] != "failed-new" || pr.Annotations[AnnotationKey] != key1 || pr.Annotations["other"] != "" {
		t.Fatalf("annotations %v", pr.Annotations)
	}
	if pr.Labels[LabelState] != StateQueued || pr.Labels[LabelDelivery] != "retry-dlv" || pr.Labels[LabelIssue] != "1" ||
		pr.Labels[LabelKind] != "ai-dev" || pr.Labels["tekton.dev/pipeline"] != "" {
		t.Fatalf("labels %v", pr.Labels)
	}
	if pr.Spec.Status != v1.PipelineRunSpecStatusPending || pr.Spec.PipelineRef.Name != "ai-dev" || len(pr.Status.Conditions) != 0 {
		t.Fatalf("spec %+v status %+v", pr.Spec, pr.Status)
	}
	params := map[string]string{}
	for _, p := range pr.Spec.Params {
		params[p.Name] = p.Value.StringVal
	}
	if params["delivery"] != "retry-dlv" || params["sender"] != "Codertocat" || params["issue"] != "1" {
		t.Fatalf("params %v", params)
	}
	// Redelivered /retry: duplicate.
	if name2, dup, err := c.Retry(ctx, route); err != nil || !dup || name2 != name {
		t.Fatalf("redelivered retry: %q %v %v", name2, dup, err)
	}
	// A key without failed runs: nothing to retry.
	none := routeFrom(t, "issue_comment.created.json", "x", map[string]any{"comment.body": "/retry", "issue.number": 99})
	if name, dup, err := c.Retry(ctx, none); err != nil || dup || name != "" {
		t.Fatalf("nothing to retry: %q %v %v", name, dup, err)
	}
}

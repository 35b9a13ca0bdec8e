package housekeeping

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/pkg/slots"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonfake "github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

const ns = "agentline-system"

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func pr(name, key, kind string, at int, finished bool) *v1.PipelineRun {
	p := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(at) * time.Second)),
		Labels:      map[string]string{runs.LabelKind: kind},
		Annotations: map[string]string{runs.AnnotationKey: key, runs.AnnotationRepo: "acme/shop"}}}
	if finished {
		p.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue}}}
	}
	return p
}

func TestPruneKeepsNewestPerKeyAndKind(t *testing.T) {
	var objs []*v1.PipelineRun
	for i := 0; i < 7; i++ {
		objs = append(objs, pr(fmt.Sprintf("dev-%d", i), "acme/shop#7", "ai-dev", i, true))
	}
	objs = append(objs, pr("dev-active", "acme/shop#7", "ai-dev", 0, false), pr("review-0", "acme/shop#7", "ai-dev-review", 0, true),
		pr("other-0", "acme/shop#8", "ai-dev", 0, true))
	tk := tektonfake.NewSimpleClientset()
	for _, o := range objs {
		if _, err := tk.TektonV1().PipelineRuns(ns).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	k := &Keeper{Tekton: tk, Namespace: func() string { return ns }, Keep: func() int { return 5 }}
	deleted, err := k.Prune(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(deleted)
	if strings.Join(deleted, ",") != "dev-0,dev-1" {
		t.Fatalf("deleted %v, want the two oldest finished ai-dev runs of #7", deleted)
	}
	l, _ := tk.TektonV1().PipelineRuns(ns).List(context.Background(), metav1.ListOptions{})
	if len(l.Items) != 8 {
		t.Fatalf("%d runs left, want 8", len(l.Items))
	}
}

func TestCleanupForExpiredSlot(t *testing.T) {
	holder := "acme/shop#7"
	dur := int32(60)
	old := metav1.NewMicroTime(t0.Add(-time.Hour))
	fresh := metav1.NewMicroTime(t0)
	other := "acme/shop#8"
	lease := func(slot int, h *string, rt *metav1.MicroTime, issue string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: slots.LeaseName("shop", "ai", slot), Namespace: ns,
			Labels: map[string]string{slots.LabelKind: slots.KindSlot, slots.LabelEnv: "ai", slots.LabelIssue: issue}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: h, LeaseDurationSeconds: &dur, RenewTime: rt}}
	}
	kube := kubefake.NewSimpleClientset(lease(1, &holder, &old, "7"), lease(2, &other, &fresh, "8"))
	tk := tektonfake.NewSimpleClientset()
	creator := &runs.Creator{Tekton: tk}
	k := &Keeper{Tekton: tk, Kube: kube, Namespace: func() string { return ns }, SlotNamespace: ns, Creator: creator,
		Now: func() time.Time { return t0.Add(time.Second) }}
	started, err := k.CleanupExpired(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 1 {
		t.Fatalf("started %v, want one cleanup (only slot 1 expired)", started)
	}
	got, err := tk.TektonV1().PipelineRuns(ns).Get(context.Background(), started[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.PipelineRef.Name != "cleanup" || got.Annotations[runs.AnnotationKey] != holder || got.Labels[runs.LabelIssue] != "7" || got.Spec.Status != v1.PipelineRunSpecStatusPending {
		t.Fatalf("cleanup run %s: %v %v %q", got.Name, got.Labels, got.Annotations, got.Spec.Status)
	}
	// The next pass sees the same expiry: no second cleanup.
	if again, err := k.CleanupExpired(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("second pass started %v (err %v)", again, err)
	}
}

package queue

import (
	"context"
	"fmt"
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
	"k8s.io/client-go/tools/record"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

const testNS = "agentline-system"

func pendingRun(name string, issue int, kind string, at int) *v1.PipelineRun {
	return &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(at) * time.Second)),
			Labels: map[string]string{runs.LabelKind: kind, runs.LabelState: runs.StateQueued, runs.LabelIssue: fmt.Sprint(issue),
				runs.LabelRepo: "acme.shop"},
			Annotations: map[string]string{runs.AnnotationKey: fmt.Sprintf("acme/shop#%d", issue), runs.AnnotationRepo: "acme/shop"},
		},
		Spec: v1.PipelineRunSpec{PipelineRef: &v1.PipelineRef{Name: kind}, Status: v1.PipelineRunSpecStatusPending},
	}
}

func slotLease(slot int, holderKey string, issue int, renewed time.Time) *coordinationv1.Lease {
	dur := int32(3600)
	rt := metav1.NewMicroTime(renewed)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: slots.LeaseName("shop", "ai", slot), Namespace: testNS, Labels: map[string]string{
			slots.LabelKind: slots.KindSlot, slots.LabelProject: "shop", slots.LabelEnv: "ai",
			slots.LabelSlot: fmt.Sprint(slot), slots.LabelIssue: fmt.Sprint(issue)}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holderKey, LeaseDurationSeconds: &dur, RenewTime: &rt, AcquireTime: &rt},
	}
}

func newReconciler(tk *tektonfake.Clientset, kube *kubefake.Clientset, max int) *Reconciler {
	return &Reconciler{
		Tekton: tk, Kube: kube, Namespace: func() string { return testNS }, SlotNamespace: testNS,
		Limits: func() Limits { return Limits{MaxSlots: max} }, Now: func() time.Time { return t0.Add(time.Minute) },
		Recorder: record.NewFakeRecorder(100),
	}
}

func get(t *testing.T, tk *tektonfake.Clientset, name string) *v1.PipelineRun {
	t.Helper()
	pr, err := tk.TektonV1().PipelineRuns(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func finish(t *testing.T, tk *tektonfake.Clientset, name string, ok bool) {
	t.Helper()
	pr := get(t, tk, name)
	st := corev1.ConditionTrue
	if !ok {
		st = corev1.ConditionFalse
	}
	pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: st, Reason: "Done"}}}
	if _, err := tk.TektonV1().PipelineRuns(testNS).UpdateStatus(context.Background(), pr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func started(t *testing.T, tk *tektonfake.Clientset, name string) bool {
	pr := get(t, tk, name)
	return pr.Spec.Status == "" && pr.Labels[runs.LabelState] == StateRunning
}

func TestReconcilerStartsWaitsAndRebuilds(t *testing.T) {
	ctx := context.Background()
	tk := tektonfake.NewSimpleClientset(
		pendingRun("r1", 1, "ai-dev", 1), pendingRun("r2", 2, "ai-dev", 2), pendingRun("r3", 3, "ai-dev", 3),
		pendingRun("r3b", 3, "ai-dev", 4), // supersedes r3
		pendingRun("stg", 4, "staging-deploy", 5),
	)
	// Issue 9 holds one of the two slots through a live Lease; an expired Lease of issue 10 counts for nothing.
	kube := kubefake.NewSimpleClientset(slotLease(1, "acme/shop#9", 9, t0), slotLease(2, "acme/shop#10", 10, t0.Add(-2*time.Hour)))
	var planned []Plan
	r := newReconciler(tk, kube, 2)
	r.OnPlan = func(ns string, p Plan) { planned = append(planned, p) }

	p, err := r.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := startedNames(p); strings.Join(got, ",") != "r1,stg" {
		t.Fatalf("started %v, want r1 (last free slot) and stg (needs none)", got)
	}
	for _, n := range []string{"r1", "stg"} {
		if !started(t, tk, n) {
			t.Errorf("%s not started: %+v", n, get(t, tk, n).Spec.Status)
		}
	}
	for _, n := range []string{"r2", "r3b"} {
		if pr := get(t, tk, n); pr.Spec.Status != v1.PipelineRunSpecStatusPending || pr.Labels[runs.LabelState] != StateQueued {
			t.Errorf("%s should still wait: status %q state %q", n, pr.Spec.Status, pr.Labels[runs.LabelState])
		}
	}
	if pr := get(t, tk, "r3"); pr.Spec.Status != v1.PipelineRunSpecStatusCancelled || pr.Labels[runs.LabelState] != StateSuperseded {
		t.Errorf("r3 should be superseded: status %q state %q", pr.Spec.Status, pr.Labels[runs.LabelState])
	}
	if got := waitingNames(p); strings.Join(got, ",") != "r2:slots-full,r3b:behind-older-run" {
		t.Errorf("waiting %v", got)
	}
	if len(planned) != 1 {
		t.Fatalf("OnPlan called %d times", len(planned))
	}

	// A second look changes nothing (idempotent).
	if p, err = r.Sync(ctx); err != nil || len(p.Start) != 0 || len(p.Supersede) != 0 {
		t.Fatalf("second sync: start %v supersede %v err %v", startedNames(p), names(p.Supersede), err)
	}

	// Restart: a new reconciler with no memory sees r1 running and keeps the others waiting.
	r2 := newReconciler(tk, kube, 2)
	if p, err = r2.Sync(ctx); err != nil || len(p.Start) != 0 {
		t.Fatalf("after restart: start %v err %v", startedNames(p), err)
	}
	// r1 finishes: the oldest waiting run (r2) takes its slot, r3b still waits behind it.
	finish(t, tk, "r1", true)
	if p, err = r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := startedNames(p); strings.Join(got, ",") != "r2" {
		t.Fatalf("after r1 finished: started %v, want r2; waiting %v; r1 %+v", got, waitingNames(p), get(t, tk, "r1").Status)
	}
	if s := get(t, tk, "r1").Labels[runs.LabelState]; s != StateSucceeded {
		t.Errorf("r1 state %q, want succeeded", s)
	}
	// Issue 9's Lease is released: r3b starts.
	if err := kube.CoordinationV1().Leases(testNS).Delete(ctx, slots.LeaseName("shop", "ai", 1), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	finish(t, tk, "r2", false)
	if p, err = r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := startedNames(p); strings.Join(got, ",") != "r3b" {
		t.Fatalf("after the Lease went: started %v, want r3b", got)
	}
	if s := get(t, tk, "r2").Labels[runs.LabelState]; s != StateFailed {
		t.Errorf("r2 state %q, want failed", s)
	}
	if rec := r.Recorder.(*record.FakeRecorder); len(rec.Events) == 0 {
		t.Error("no Kubernetes Events recorded")
	}
}

func TestFromPipelineRun(t *testing.T) {
	pr := pendingRun("x", 7, "ai-dev", 1)
	r, ok := FromPipelineRun(pr)
	if !ok || r.Phase != PhasePending || r.Key != "acme/shop#7" || r.Issue != 7 || r.Repo != "acme/shop" {
		t.Fatalf("%+v %v", r, ok)
	}
	pr.Spec.Status = v1.PipelineRunSpecStatusCancelled
	if r, _ = FromPipelineRun(pr); r.Phase != PhaseDone || r.Outcome != StateCancelled {
		t.Fatalf("run cancelled before it started: %v %s, want done/cancelled", r.Phase, r.Outcome)
	}
	pr.Status.StartTime = &metav1.Time{Time: t0}
	if r, _ = FromPipelineRun(pr); r.Phase != PhaseActive {
		t.Fatalf("started run being cancelled: phase %v, want active (its key stays busy until it ends)", r.Phase)
	}
	pr.Spec.Status = v1.PipelineRunSpecStatusCancelledRunFinally
	if r, _ = FromPipelineRun(pr); r.Phase != PhaseActive {
		t.Fatalf("cancelling run phase %v, want active (its key stays busy until it ends)", r.Phase)
	}
	pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: "Cancelled"}}}
	if r, _ = FromPipelineRun(pr); r.Phase != PhaseDone || r.Outcome != StateCancelled {
		t.Fatalf("cancelled run: %v %s", r.Phase, r.Outcome)
	}
	delete(pr.Annotations, runs.AnnotationKey)
	if _, ok := FromPipelineRun(pr); ok {
		t.Fatal("run without key annotation accepted")
	}
}

func TestHolderOf(t *testing.T) {
	l := slotLease(1, "acme/shop#9", 9, t0)
	h, ok := HolderOf(l, t0.Add(time.Minute))
	if !ok || h.Pool != Pool("acme/shop", "ai") || h.Issue != 9 {
		t.Fatalf("%+v %v", h, ok)
	}
	if _, ok := HolderOf(l, t0.Add(2*time.Hour)); ok {
		t.Fatal("expired Lease counted")
	}
}

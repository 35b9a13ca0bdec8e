package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/pkg/slots"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"knative.dev/pkg/controller"
)

// FieldManager is the field manager of agentline's writes.
const FieldManager = "agentline"

// Selector selects agentline's PipelineRuns (those with a kind label).
const Selector = runs.LabelKind

// Reconciler applies the queue's Plan to one namespace of PipelineRuns. It implements
// knative's controller.Reconciler: every key it is given means "look at the queue again".
type Reconciler struct {
	Tekton versioned.Interface
	// Kube reads the slot Leases (nil: slots are counted from active runs only).
	Kube kubernetes.Interface
	// Namespace returns the namespace of the runs (it may change with the configuration).
	Namespace func() string
	// SlotNamespace holds the slot Leases; empty means slots.DefaultSystemNamespace.
	SlotNamespace string
	// Limits returns the current slot limits.
	Limits func() Limits
	// Now is the clock used for Lease expiry (nil: time.Now).
	Now func() time.Time
	// Recorder, when set, records Kubernetes Events on the runs it starts or supersedes.
	Recorder record.EventRecorder
	// OnPlan, when set, is called with every plan after it was applied (metrics, status).
	OnPlan func(namespace string, p Plan)
	// Logger (nil: no logs).
	Logger *zap.SugaredLogger
}

var _ controller.Reconciler = (*Reconciler)(nil)

// Reconcile runs Sync; the key is ignored (the queue is one object).
func (r *Reconciler) Reconcile(ctx context.Context, _ string) error {
	_, err := r.Sync(ctx)
	return err
}

func (r *Reconciler) log() *zap.SugaredLogger {
	if r.Logger == nil {
		return zap.NewNop().Sugar()
	}
	return r.Logger
}

// Snapshot lists the namespace's agentline runs and the live slot Leases straight from the API
// server (never from memory or a possibly stale cache).
func (r *Reconciler) Snapshot(ctx context.Context) ([]Run, []Holder, error) {
	ns := r.Namespace()
	list, err := r.Tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: Selector})
	if err != nil {
		return nil, nil, fmt.Errorf("queue: list PipelineRuns in %s: %w", ns, err)
	}
	var rs []Run
	for i := range list.Items {
		if run, ok := FromPipelineRun(&list.Items[i]); ok {
			rs = append(rs, run)
		}
	}
	holders, err := r.holders(ctx)
	if err != nil {
		return nil, nil, err
	}
	return rs, holders, nil
}

func (r *Reconciler) holders(ctx context.Context) ([]Holder, error) {
	if r.Kube == nil {
		return nil, nil
	}
	ns := r.SlotNamespace
	if ns == "" {
		ns = slots.DefaultSystemNamespace
	}
	list, err := r.Kube.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{LabelSelector: slots.LabelKind + "=" + slots.KindSlot})
	if err != nil {
		return nil, fmt.Errorf("queue: list slot Leases in %s: %w", ns, err)
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var out []Holder
	for i := range list.Items {
		if h, ok := HolderOf(&list.Items[i], now); ok {
			out = append(out, h)
		}
	}
	return out, nil
}

// HolderOf returns the Holder of a live slot Lease; ok is false for expired Leases and Leases
// whose holder is not an issue key.
func HolderOf(l *coordinationv1.Lease, now time.Time) (Holder, bool) {
	if l.Spec.HolderIdentity == nil || l.Spec.LeaseDurationSeconds == nil {
		return Holder{}, false
	}
	t := l.Spec.RenewTime
	if t == nil {
		t = l.Spec.AcquireTime
	}
	if t == nil || !now.Before(t.Add(time.Duration(*l.Spec.LeaseDurationSeconds)*time.Second)) {
		return Holder{}, false
	}
	key := *l.Spec.HolderIdentity
	repo, _, ok := strings.Cut(key, "#")
	if !ok {
		return Holder{}, false
	}
	h := Holder{Pool: Pool(repo, l.Labels[slots.LabelEnv]), Key: key}
	h.Issue, _ = strconv.Atoi(l.Labels[slots.LabelIssue])
	h.PR, _ = strconv.Atoi(l.Labels[slots.LabelPR])
	return h, h.Pool != ""
}

// Sync reads the cluster, plans and applies the plan. A write that meets a changed run
// (conflict) returns an error so the work queue retries with a fresh read.
func (r *Reconciler) Sync(ctx context.Context) (Plan, error) {
	rs, holders, err := r.Snapshot(ctx)
	if err != nil {
		return Plan{}, err
	}
	lim := Limits{MaxSlots: 1}
	if r.Limits != nil {
		lim = r.Limits()
	}
	p := Decide(rs, holders, lim)
	var errs []string
	for _, s := range p.Supersede {
		err := r.patch(ctx, s, map[string]any{
			"metadata": map[string]any{"resourceVersion": s.ResourceVersion, "labels": map[string]string{runs.LabelState: StateSuperseded}},
			"spec":     map[string]any{"status": v1.PipelineRunSpecStatusCancelled},
		})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		r.log().Infow("queue: superseded", "run", s.Name, "key", s.Key, "kind", s.Kind)
		r.event(s, corev1.EventTypeNormal, "Superseded", "a newer run of "+s.Key+" ("+s.Kind+") replaces this one")
	}
	for _, s := range p.Start {
		err := r.patch(ctx, s.Run, map[string]any{
			"metadata": map[string]any{"resourceVersion": s.Run.ResourceVersion, "labels": map[string]string{runs.LabelState: StateRunning}},
			"spec":     map[string]any{"status": nil},
		})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		r.log().Infow("queue: started", "run", s.Run.Name, "key", s.Run.Key, "kind", s.Run.Kind, "pool", s.Pool)
		r.event(s.Run, corev1.EventTypeNormal, "Started", "started by the agentline queue")
	}
	for name, state := range p.Relabel {
		run := Run{Namespace: r.Namespace(), Name: name}
		if err := r.patch(ctx, run, map[string]any{"metadata": map[string]any{"labels": map[string]string{runs.LabelState: state}}}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if r.OnPlan != nil {
		r.OnPlan(r.Namespace(), p)
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("queue: %s", strings.Join(errs, "; "))
	}
	return p, nil
}

func (r *Reconciler) patch(ctx context.Context, run Run, patch map[string]any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = r.Tekton.TektonV1().PipelineRuns(run.Namespace).Patch(ctx, run.Name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: FieldManager})
	switch {
	case apierrors.IsNotFound(err):
		return nil // deleted meanwhile: nothing to do
	case err != nil:
		return fmt.Errorf("patch PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
	}
	return nil
}

func (r *Reconciler) event(run Run, typ, reason, msg string) {
	if r.Recorder == nil {
		return
	}
	ref := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: run.Namespace, Name: run.Name}}
	ref.SetGroupVersionKind(v1.SchemeGroupVersion.WithKind("PipelineRun"))
	r.Recorder.Event(ref, typ, reason, msg)
}

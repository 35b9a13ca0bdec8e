package runs

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/agentline/agentline/pkg/router"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Creator creates, cancels and retries agentline's PipelineRuns. It implements the webhook
// package's RunCreator, Canceller and Retrier.
type Creator struct {
	// Tekton is the Tekton clientset.
	Tekton versioned.Interface
	// Config returns the current configuration (it may change while running); nil means
	// DefaultConfig.
	Config func() Config
}

func (c *Creator) config() Config {
	if c.Config == nil {
		return DefaultConfig()
	}
	return c.Config()
}

// Create builds the route's PipelineRun and creates it. A run of that name already existing
// (a redelivered event) is reported as duplicate, not as an error.
func (c *Creator) Create(ctx context.Context, route *router.Route) (name string, duplicate bool, err error) {
	pr, err := Build(route, c.config())
	if err != nil {
		return "", false, err
	}
	return c.create(ctx, pr)
}

func (c *Creator) create(ctx context.Context, pr *v1.PipelineRun) (string, bool, error) {
	_, err := c.Tekton.TektonV1().PipelineRuns(pr.Namespace).Create(ctx, pr, metav1.CreateOptions{FieldManager: "agentline"})
	switch {
	case apierrors.IsAlreadyExists(err):
		return pr.Name, true, nil
	case err != nil:
		return "", false, fmt.Errorf("create PipelineRun %s/%s (%s): %w", pr.Namespace, pr.Name, pr.Annotations[AnnotationKey], err)
	}
	return pr.Name, false, nil
}

// ListKey returns the PipelineRuns of a route key (`owner/repo#N`), oldest first.
func (c *Creator) ListKey(ctx context.Context, repo, key string) ([]v1.PipelineRun, error) {
	ns := c.config().Namespace
	sel := labels.SelectorFromSet(labels.Set{LabelRepo: RepoLabel(repo)}).String()
	list, err := c.Tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list PipelineRuns of %s in %s: %w", key, ns, err)
	}
	var out []v1.PipelineRun
	for _, pr := range list.Items {
		// The label may be shortened; the annotation is exact.
		if pr.Annotations[AnnotationKey] == key {
			out = append(out, pr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Cancel cancels every active (not finished, not already cancelled) PipelineRun of route.Key
// and returns their names. A run still waiting (Pending) is cancelled outright; a started run
// gets CancelledRunFinally so its `finally` tasks report and release what it took.
func (c *Creator) Cancel(ctx context.Context, route *router.Route) ([]string, error) {
	prs, err := c.ListKey(ctx, route.Repo, route.Key)
	if err != nil {
		return nil, err
	}
	var cancelled []string
	for i := range prs {
		pr := &prs[i]
		if pr.IsDone() || pr.IsCancelled() || pr.IsGracefullyCancelled() || pr.IsGracefullyStopped() {
			continue
		}
		status := v1.PipelineRunSpecStatusCancelledRunFinally
		if pr.IsPending() || !pr.HasStarted() {
			status = v1.PipelineRunSpecStatusCancelled
		}
		patch := fmt.Sprintf(`{"spec":{"status":%q}}`, status)
		_, err := c.Tekton.TektonV1().PipelineRuns(pr.Namespace).Patch(ctx, pr.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "agentline"})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return cancelled, fmt.Errorf("cancel PipelineRun %s/%s of %s: %w", pr.Namespace, pr.Name, route.Key, err)
		}
		cancelled = append(cancelled, pr.Name)
	}
	return cancelled, nil
}

// Retry creates a new Pending run repeating the most recent failed PipelineRun of route.Key
// (same pipeline, params and workspaces; the delivery and sender of the retry). The new run is
// named router.RunName(<pipeline>, route.Delivery), so a redelivered `/retry` is a duplicate.
// It returns "" (and no error) when the key has no failed run.
func (c *Creator) Retry(ctx context.Context, route *router.Route) (name string, duplicate bool, err error) {
	prs, err := c.ListKey(ctx, route.Repo, route.Key)
	if err != nil {
		return "", false, err
	}
	var last *v1.PipelineRun
	for i := range prs {
		if prs[i].IsFailure() && prs[i].Spec.PipelineRef != nil && prs[i].Spec.PipelineRef.Name != "" {
			last = &prs[i]
		}
	}
	if last == nil {
		return "", false, nil
	}
	pr := retryOf(last, route)
	return c.create(ctx, pr)
}

func retryOf(old *v1.PipelineRun, route *router.Route) *v1.PipelineRun {
	pipeline := old.Spec.PipelineRef.Name
	pr := &v1.PipelineRun{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.SchemeGroupVersion.String(), Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        router.RunName(pipeline, route.Delivery),
			Namespace:   old.Namespace,
			Labels:      map[string]string{},
			Annotations: map[string]string{AnnotationRetryOf: old.Name},
		},
	}
	for k, v := range old.Labels {
		if strings.HasPrefix(k, "agentline.dev/") {
			pr.Labels[k] = v
		}
	}
	for k, v := range old.Annotations {
		if strings.HasPrefix(k, "agentline.dev/") && k != AnnotationRetryOf {
			pr.Annotations[k] = v
		}
	}
	pr.Labels[LabelState] = StateQueued
	pr.Labels[LabelDelivery] = LabelValue(route.Delivery)
	old.Spec.DeepCopyInto(&pr.Spec)
	pr.Spec.Status = v1.PipelineRunSpecStatusPending
	for i := range pr.Spec.Params {
		switch pr.Spec.Params[i].Name {
		case router.ParamDelivery:
			pr.Spec.Params[i].Value = *v1.NewStructuredValues(route.Delivery)
		case router.ParamSender:
			pr.Spec.Params[i].Value = *v1.NewStructuredValues(route.Params[router.ParamSender])
		}
	}
	return pr
}

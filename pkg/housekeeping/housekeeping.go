// Package housekeeping keeps agentline's cluster state bounded: it deletes finished
// PipelineRuns beyond the configured number per key and kind, and starts `cleanup` for slot
// Leases that expired (the cleanup Pipeline destroys the environment and releases the Lease).
package housekeeping

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/queue"
	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Creator creates a run for a route (pkg/runs.Creator).
type Creator interface {
	Create(ctx context.Context, route *router.Route) (name string, duplicate bool, err error)
}

// Keeper does the housekeeping of one run namespace.
type Keeper struct {
	Tekton versioned.Interface
	Kube   kubernetes.Interface
	// Namespace of the runs; SlotNamespace of the slot Leases (default agentline-system).
	Namespace     func() string
	SlotNamespace string
	// Keep returns how many finished runs to keep per key and kind.
	Keep func() int
	// Creator starts cleanup runs (nil: expired Leases are left alone).
	Creator Creator
	// Language is the `lang` param of cleanup runs.
	Language func() string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Report is what one pass did.
type Report struct {
	Deleted  []string
	Cleanups []string
}

// Pass prunes finished runs and starts cleanups for expired slots.
func (k *Keeper) Pass(ctx context.Context) (Report, error) {
	var rep Report
	var err error
	if rep.Deleted, err = k.Prune(ctx); err != nil {
		return rep, err
	}
	rep.Cleanups, err = k.CleanupExpired(ctx)
	return rep, err
}

// Prune deletes the oldest finished runs of each (key, kind) beyond Keep().
func (k *Keeper) Prune(ctx context.Context) ([]string, error) {
	ns := k.Namespace()
	list, err := k.Tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: queue.Selector})
	if err != nil {
		return nil, fmt.Errorf("housekeeping: list PipelineRuns in %s: %w", ns, err)
	}
	groups := map[[2]string][]queue.Run{}
	for i := range list.Items {
		r, ok := queue.FromPipelineRun(&list.Items[i])
		if ok && r.Phase == queue.PhaseDone {
			groups[[2]string{r.Key, r.Kind}] = append(groups[[2]string{r.Key, r.Kind}], r)
		}
	}
	keep := 5
	if k.Keep != nil {
		keep = k.Keep()
	}
	var deleted []string
	for _, rs := range groups {
		if len(rs) <= keep {
			continue
		}
		queue.SortFIFO(rs)
		for _, r := range rs[:len(rs)-keep] {
			err := k.Tekton.TektonV1().PipelineRuns(ns).Delete(ctx, r.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{ResourceVersion: &r.ResourceVersion}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return deleted, fmt.Errorf("housekeeping: delete PipelineRun %s/%s: %w", ns, r.Name, err)
			}
			if err == nil {
				deleted = append(deleted, r.Name)
			}
		}
	}
	return deleted, nil
}

// CleanupExpired starts one `cleanup` run per expired slot Lease (named from the Lease and its
// last renewal, so later passes do not start another for the same expiry).
func (k *Keeper) CleanupExpired(ctx context.Context) ([]string, error) {
	if k.Creator == nil || k.Kube == nil {
		return nil, nil
	}
	ns := k.SlotNamespace
	if ns == "" {
		ns = slots.DefaultSystemNamespace
	}
	list, err := k.Kube.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{LabelSelector: slots.LabelKind + "=" + slots.KindSlot})
	if err != nil {
		return nil, fmt.Errorf("housekeeping: list slot Leases in %s: %w", ns, err)
	}
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	var started []string
	for i := range list.Items {
		l := &list.Items[i]
		if _, live := queue.HolderOf(l, now); live || l.Spec.HolderIdentity == nil {
			continue
		}
		route, ok := k.cleanupRoute(l)
		if !ok {
			continue
		}
		name, dup, err := k.Creator.Create(ctx, route)
		if err != nil {
			return started, fmt.Errorf("housekeeping: cleanup for expired Lease %s/%s: %w", ns, l.Name, err)
		}
		if !dup {
			started = append(started, name)
		}
	}
	return started, nil
}

func (k *Keeper) cleanupRoute(l *coordinationv1.Lease) (*router.Route, bool) {
	key := *l.Spec.HolderIdentity
	repo, num, ok := strings.Cut(key, "#")
	if !ok || !strings.Contains(repo, "/") {
		return nil, false
	}
	issue, _ := strconv.Atoi(l.Labels[slots.LabelIssue])
	pr, _ := strconv.Atoi(l.Labels[slots.LabelPR])
	if issue == 0 && pr == 0 {
		issue, _ = strconv.Atoi(num)
	}
	var renewed int64
	if t := l.Spec.RenewTime; t != nil {
		renewed = t.Unix()
	} else if t := l.Spec.AcquireTime; t != nil {
		renewed = t.Unix()
	}
	delivery := fmt.Sprintf("expired-%s-%d", l.Name, renewed)
	lang := "en"
	if k.Language != nil {
		lang = k.Language()
	}
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	params := map[string]string{}
	for _, p := range router.ParamNames {
		params[p] = ""
	}
	params[router.ParamRepo], params[router.ParamIssue], params[router.ParamPR] = repo, itoa(issue), itoa(pr)
	params[router.ParamKey], params[router.ParamDelivery], params[router.ParamLang] = key, delivery, lang
	params[router.ParamSender] = "agentline"
	return &router.Route{Action: router.ActionCreate, Pipeline: router.PipelineCleanup, Kind: router.PipelineCleanup,
		Repo: repo, Issue: issue, PR: pr, Key: key, RunName: router.RunName(router.PipelineCleanup, delivery),
		Delivery: delivery, Params: params}, true
}

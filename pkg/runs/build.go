// Package runs turns a router.Route into a Tekton v1 PipelineRun and creates, cancels and
// retries agentline's PipelineRuns with the Tekton clientset.
package runs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"time"

	"github.com/agentline/agentline/pkg/router"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	corev1 "k8s.io/api/core/v1"
)

// Label keys (shared names, see the project brief).
const (
	LabelRepo     = "agentline.dev/repo"
	LabelIssue    = "agentline.dev/issue"
	LabelPR       = "agentline.dev/pr"
	LabelKind     = "agentline.dev/kind"
	LabelState    = "agentline.dev/state"
	LabelDelivery = "agentline.dev/delivery"
)

// Annotation keys.
const (
	// AnnotationRepo holds the exact `owner/repo` (the label holds a sanitised form).
	AnnotationRepo = "agentline.dev/repo"
	// AnnotationKey holds the route key (`owner/repo#N` or `owner/repo@branch`).
	AnnotationKey = "agentline.dev/key"
	// AnnotationRetryOf names the failed PipelineRun a retry run repeats.
	AnnotationRetryOf = "agentline.dev/retry-of"
)

// StateQueued is the agentline.dev/state of a newly created (Pending) run.
const StateQueued = "queued"

// RepoLabel returns the agentline.dev/repo label value of `owner/repo`: `owner.repo`, with
// characters a label value cannot hold replaced by `-`; names too long for a label (63) are
// cut and suffixed with a hash of the full name so distinct repositories keep distinct values.
func RepoLabel(repo string) string {
	return LabelValue(strings.Replace(repo, "/", ".", 1))
}

// LabelValue makes s a valid label value, deterministically (see RepoLabel).
func LabelValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	v := strings.Trim(b.String(), "-_.")
	if v == s && len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	// Changed or too long: append a hash of the original so different inputs stay different.
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:10]
	if max := validation.LabelValueMaxLength - len(h) - 1; len(v) > max {
		v = strings.TrimRight(v[:max], "-_.")
	}
	if v == "" {
		return h
	}
	return v + "-" + h
}

// Build returns the PipelineRun for a route with Action create or cancel-then-cleanup: named
// route.RunName in cfg.Namespace, referencing route.Pipeline, with every route param, status
// PipelineRunPending (agentline's queue starts it), agentline's labels and annotations, and
// the configured workspaces.
func Build(route *router.Route, cfg Config) (*v1.PipelineRun, error) {
	if route == nil {
		return nil, fmt.Errorf("build PipelineRun: nil route")
	}
	if route.Action != router.ActionCreate && route.Action != router.ActionCancelThenCleanup {
		return nil, fmt.Errorf("build PipelineRun for %s (delivery %s): action %q creates no run", route.Key, route.Delivery, route.Action)
	}
	if route.Pipeline == "" || route.RunName == "" {
		return nil, fmt.Errorf("build PipelineRun for %s (delivery %s): route has no pipeline or run name", route.Key, route.Delivery)
	}
	if errs := validation.IsDNS1123Label(route.RunName); len(errs) > 0 {
		return nil, fmt.Errorf("build PipelineRun for %s: run name %q: %s", route.Key, route.RunName, strings.Join(errs, "; "))
	}
	pr := &v1.PipelineRun{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.SchemeGroupVersion.String(), Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        route.RunName,
			Namespace:   cfg.Namespace,
			Labels:      Labels(route),
			Annotations: Annotations(route),
		},
		Spec: v1.PipelineRunSpec{
			PipelineRef: &v1.PipelineRef{Name: route.Pipeline},
			Params:      params(route),
			Status:      v1.PipelineRunSpecStatusPending,
			Workspaces:  cfg.WorkspacesFor(route.Pipeline),
		},
	}
	if cfg.ServiceAccountName != "" {
		pr.Spec.TaskRunTemplate.ServiceAccountName = cfg.ServiceAccountName
	}
	// The same bounds and volume ownership as the Triggers path's TriggerTemplate: the agent
	// task alone may take 90 minutes, longer than Tekton's default of one hour for a run.
	pr.Spec.Timeouts = &v1.TimeoutFields{Pipeline: &metav1.Duration{Duration: PipelineTimeout}}
	fsGroup := RunFSGroup
	pr.Spec.TaskRunTemplate.PodTemplate = &pod.PodTemplate{SecurityContext: &corev1.PodSecurityContext{FSGroup: &fsGroup}}
	return pr, nil
}

// PipelineTimeout bounds every agentline PipelineRun (triggers/triggertemplate.yaml sets the same).
const PipelineTimeout = 3 * time.Hour

// RunFSGroup owns the workspace volume for the non-root steps (the TriggerTemplate's fsGroup).
const RunFSGroup int64 = 65532

// Labels returns the agentline labels of a route's PipelineRun: repo, kind, state (queued),
// delivery, issue and pr. Issue and pr are always present, empty when the route has none, as
// in the PipelineRuns the Triggers path creates (a TriggerTemplate cannot omit a label).
func Labels(route *router.Route) map[string]string {
	kind := route.Kind
	if kind == "" {
		kind = route.Pipeline
	}
	issue, pr := "", ""
	if route.Issue > 0 {
		issue = strconv.Itoa(route.Issue)
	}
	if route.PR > 0 {
		pr = strconv.Itoa(route.PR)
	}
	return map[string]string{
		LabelRepo:     RepoLabel(route.Repo),
		LabelKind:     LabelValue(kind),
		LabelState:    StateQueued,
		LabelDelivery: LabelValue(route.Delivery),
		LabelIssue:    issue,
		LabelPR:       pr,
	}
}

// Annotations returns the agentline annotations of a route's PipelineRun: the exact repo and
// the key.
func Annotations(route *router.Route) map[string]string {
	return map[string]string{AnnotationRepo: route.Repo, AnnotationKey: route.Key}
}

// params lists the route's params in router.ParamNames order, then any others sorted.
func params(route *router.Route) v1.Params {
	out := make(v1.Params, 0, len(route.Params))
	done := map[string]bool{}
	for _, n := range router.ParamNames {
		if v, ok := route.Params[n]; ok {
			out = append(out, v1.Param{Name: n, Value: *v1.NewStructuredValues(v)})
			done[n] = true
		}
	}
	var extra []string
	for n := range route.Params {
		if !done[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	for _, n := range extra {
		out = append(out, v1.Param{Name: n, Value: *v1.NewStructuredValues(route.Params[n])})
	}
	return out
}

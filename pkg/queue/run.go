// Package queue starts agentline's Pending PipelineRuns in order: a run starts when no other
// run of its key is active and, for kinds that work in a dev slot, a slot of its pool is free
// or already held by its key (or its issue or PR); otherwise it waits, first in first out. A
// newer queued run of the same key and kind supersedes an older queued one.
//
// Every decision is made from the cluster as it is (the runs and the slot Leases, listed live),
// so a restarted controller rebuilds the queue with no memory of its own. Decide is the pure
// core; Reconciler applies its Plan with the Tekton clientset.
package queue

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"knative.dev/pkg/apis"
)

// Values of the agentline.dev/state label.
const (
	StateQueued     = runs.StateQueued
	StateRunning    = "running"
	StateSucceeded  = "succeeded"
	StateFailed     = "failed"
	StateCancelled  = "cancelled"
	StateSuperseded = "superseded"
)

// Phase is where a run is in its life.
type Phase int

const (
	// PhasePending runs wait for the queue (spec.status PipelineRunPending).
	PhasePending Phase = iota
	// PhaseActive runs were started (or are being cancelled) and are not finished.
	PhaseActive
	// PhaseDone runs are finished (Succeeded condition True or False).
	PhaseDone
)

func (p Phase) String() string {
	switch p {
	case PhasePending:
		return "pending"
	case PhaseActive:
		return "active"
	}
	return "done"
}

// Run is the queue's view of one agentline PipelineRun.
type Run struct {
	Namespace, Name string
	// ResourceVersion guards the queue's patches against acting on a stale read.
	ResourceVersion string
	// Key is the route key (annotation agentline.dev/key), Kind the pipeline (label
	// agentline.dev/kind), Repo the exact owner/repo (annotation agentline.dev/repo).
	Key, Kind, Repo string
	// Issue and PR come from the agentline.dev/issue and /pr labels (0 when absent).
	Issue, PR int
	Created   time.Time
	Phase     Phase
	// State is the current agentline.dev/state label.
	State string
	// Outcome is the state the run's status implies (queued, running, succeeded, failed,
	// cancelled).
	Outcome string
}

// FromPipelineRun returns the queue's view of pr; ok is false when pr is not agentline's (no
// key annotation or kind label).
func FromPipelineRun(pr *v1.PipelineRun) (Run, bool) {
	key := pr.Annotations[runs.AnnotationKey]
	kind := pr.Labels[runs.LabelKind]
	if key == "" || kind == "" {
		return Run{}, false
	}
	r := Run{
		Namespace: pr.Namespace, Name: pr.Name, ResourceVersion: pr.ResourceVersion, Key: key, Kind: kind,
		Repo:    pr.Annotations[runs.AnnotationRepo],
		Created: pr.CreationTimestamp.Time,
		State:   pr.Labels[runs.LabelState],
	}
	if r.Repo == "" {
		r.Repo, _, _ = strings.Cut(strings.SplitN(key, "@", 2)[0], "#")
	}
	r.Issue, _ = strconv.Atoi(pr.Labels[runs.LabelIssue])
	r.PR, _ = strconv.Atoi(pr.Labels[runs.LabelPR])
	switch {
	case pr.IsDone():
		r.Phase = PhaseDone
		c := pr.Status.GetCondition(apis.ConditionSucceeded)
		switch {
		case c.IsTrue():
			r.Outcome = StateSucceeded
		case c.Reason == v1.PipelineRunReasonCancelled.String() || c.Reason == v1.PipelineRunReasonCancelledRunningFinally.String() ||
			pr.IsCancelled() || pr.IsGracefullyCancelled():
			r.Outcome = StateCancelled
		default:
			r.Outcome = StateFailed
		}
	case pr.IsCancelled() && !pr.HasStarted():
		// Cancelled before it started (superseded, or cancelled while queued): Tekton ends it
		// without running anything, so it holds neither its key nor a slot.
		r.Phase, r.Outcome = PhaseDone, StateCancelled
	case pr.IsPending():
		r.Phase, r.Outcome = PhasePending, StateQueued
	default:
		r.Phase, r.Outcome = PhaseActive, StateRunning
	}
	return r, true
}

// WantState is the agentline.dev/state label the run should carry: its Outcome, except that
// a superseded run stays "superseded".
func (r Run) WantState() string {
	if r.State == StateSuperseded && r.Phase != PhaseActive {
		return StateSuperseded
	}
	return r.Outcome
}

// Env returns the slot pool (services.yaml env) the kind works in, or "" when the kind needs
// no slot: ai-plan, ai-plan-review, ai-dev and ai-dev-review use `ai`; ai-repair and
// ai-repair-review use `ai-repair`; staging-deploy and cleanup need none.
func Env(kind string) string {
	switch kind {
	case router.PipelineAIPlan, router.PipelineAIPlanReview, router.PipelineAIDev, router.PipelineAIDevReview:
		return "ai"
	case router.PipelineAIRepair, router.PipelineAIRepairReview:
		return "ai-repair"
	}
	return ""
}

// Pool names a slot pool: lower-case owner/repo, a space, the env. Slots are counted per
// repository and env.
func Pool(repo, env string) string {
	if env == "" {
		return ""
	}
	return strings.ToLower(repo) + " " + env
}

// Holder is a live slot Lease.
type Holder struct {
	// Pool is Pool(repo of the holder key, env label).
	Pool string
	// Key is the holder key (owner/repo#N); Issue and PR the Lease's labels (0 = none).
	Key       string
	Issue, PR int
}

// holds reports whether h is the slot of r's key, issue or PR.
func (h Holder) holds(r Run) bool {
	if strings.EqualFold(h.Key, r.Key) {
		return true
	}
	repo, _, ok := strings.Cut(h.Key, "#")
	if !ok || !strings.EqualFold(repo, r.Repo) {
		return false
	}
	n, _ := strconv.Atoi(keyNumber(r.Key))
	for _, x := range []int{r.Issue, r.PR, n} {
		if x > 0 && (x == h.Issue || x == h.PR || strconv.Itoa(x) == keyNumber(h.Key)) {
			return true
		}
	}
	return false
}

func keyNumber(key string) string {
	_, n, _ := strings.Cut(key, "#")
	return n
}

// SortFIFO orders runs by creation time, then name.
func SortFIFO(rs []Run) {
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].Created.Equal(rs[j].Created) {
			return rs[i].Created.Before(rs[j].Created)
		}
		return rs[i].Name < rs[j].Name
	})
}

package status

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/agentline/agentline/pkg/queue"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

// Pipeline result names the status reads (the Pipelines' contract).
const (
	ResultSlot      = "slot"
	ResultNamespace = "namespace"
	ResultHost      = "host"
	ResultSummary   = "summary"
	ResultPRURL     = "pr-url"
)

// LeaseTask is the pipeline task whose results describe the environment while a run is going.
const LeaseTask = "lease"

// DashboardLink returns the Tekton Dashboard URL of a PipelineRun ("" without a base).
func DashboardLink(base, namespace, name string) string {
	if base == "" {
		return ""
	}
	return fmt.Sprintf("%s/#/namespaces/%s/pipelineruns/%s", strings.TrimRight(base, "/"), url.PathEscape(namespace), url.PathEscape(name))
}

// details gathers what the message says: from the run's results, and from its TaskRuns and the
// failed step's log when the clients are set. Lookups that fail leave fields empty.
func (r *Reporter) details(ctx context.Context, cfg Config, s snap) Details {
	run, _ := queue.FromPipelineRun(s.pr)
	d := Details{Kind: run.Kind, Run: s.pr.Name, Namespace: s.pr.Namespace, State: s.state, Position: s.position,
		Dashboard: DashboardLink(cfg.DashboardURL, s.pr.Namespace, s.pr.Name)}
	pr := s.pr
	if r.Tekton != nil && s.state != queue.StateQueued {
		// The newest object: results and child references only grow.
		if fresh, err := r.Tekton.TektonV1().PipelineRuns(pr.Namespace).Get(ctx, pr.Name, metav1.GetOptions{}); err == nil {
			pr = fresh
		}
	}
	for _, res := range pr.Status.Results {
		v := res.Value.StringVal
		switch res.Name {
		case ResultSlot:
			d.Slot = v
		case ResultNamespace:
			d.EnvNamespace = v
		case ResultHost:
			d.Host = v
		case ResultSummary:
			d.Summary = v
		case ResultPRURL:
			d.PRURL = v
		}
	}
	if r.Tekton == nil {
		return d
	}
	switch s.state {
	case queue.StateRunning:
		if d.Slot == "" {
			if tr := r.taskRun(ctx, pr, LeaseTask); tr != nil {
				for _, res := range tr.Status.Results {
					switch res.Name {
					case ResultSlot:
						d.Slot = res.Value.StringVal
					case ResultNamespace:
						d.EnvNamespace = res.Value.StringVal
					case ResultHost:
						d.Host = res.Value.StringVal
					}
				}
			}
		}
	case queue.StateFailed:
		d.FailedTask, d.LogTail = r.failure(ctx, pr)
	}
	return d
}

func (r *Reporter) taskRun(ctx context.Context, pr *v1.PipelineRun, task string) *v1.TaskRun {
	for _, c := range pr.Status.ChildReferences {
		if c.PipelineTaskName == task && c.Kind == "TaskRun" {
			tr, err := r.Tekton.TektonV1().TaskRuns(pr.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
			if err == nil {
				return tr
			}
		}
	}
	return nil
}

// failure returns the first failed pipeline task and the masked tail of its failed step's log.
func (r *Reporter) failure(ctx context.Context, pr *v1.PipelineRun) (task, logTail string) {
	for _, c := range pr.Status.ChildReferences {
		if c.Kind != "TaskRun" {
			continue
		}
		tr, err := r.Tekton.TektonV1().TaskRuns(pr.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
		if err != nil || !tr.Status.GetCondition(apis.ConditionSucceeded).IsFalse() {
			continue
		}
		return c.PipelineTaskName, r.stepLog(ctx, tr)
	}
	return "", ""
}

func (r *Reporter) stepLog(ctx context.Context, tr *v1.TaskRun) string {
	if r.Kube == nil || tr.Status.PodName == "" {
		return ""
	}
	container := ""
	for _, st := range tr.Status.Steps {
		if st.Terminated != nil && st.Terminated.ExitCode != 0 {
			container = st.Container
			break
		}
	}
	if container == "" {
		return ""
	}
	n := int64(r.LogLines)
	if n <= 0 {
		n = 20
	}
	rc, err := r.Kube.CoreV1().Pods(tr.Namespace).GetLogs(tr.Status.PodName, &corev1.PodLogOptions{Container: container, TailLines: &n}).Stream(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return ""
	}
	var secrets []string
	if r.Secrets != nil {
		secrets = r.Secrets()
	}
	return Tail(Mask(string(b), secrets), int(n))
}

package demo

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

// Follow prints the run's tasks as they start and end, and returns the finished run.
func (d *Driver) Follow(ctx context.Context, name string) (*pipelinev1.PipelineRun, error) {
	tekton := d.Env.Tekton.TektonV1()
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 20 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	seen := map[string]string{}
	started := false
	for {
		pr, err := tekton.PipelineRuns(SystemNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if !started && pr.Spec.Status == "" && pr.Status.StartTime != nil {
			started = true
			d.printf("  ▶ %s started\n", name)
		}
		trs, err := tekton.TaskRuns(SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + name})
		if err != nil {
			return nil, err
		}
		sort.Slice(trs.Items, func(i, j int) bool { return trs.Items[i].CreationTimestamp.Before(&trs.Items[j].CreationTimestamp) })
		for _, tr := range trs.Items {
			task := tr.Labels["tekton.dev/pipelineTask"]
			state := "running"
			c := tr.Status.GetCondition(apis.ConditionSucceeded)
			switch {
			case c.IsTrue():
				state = "succeeded"
			case c.IsFalse():
				state = "failed"
			}
			if seen[task] == state {
				continue
			}
			seen[task] = state
			switch state {
			case "running":
				d.printf("    • %-10s started\n", task)
			case "succeeded":
				d.printf("    ✓ %-10s succeeded in %s\n", task, taskDuration(&tr))
			case "failed":
				d.printf("    ✗ %-10s failed: %s\n", task, c.Message)
			}
		}
		if c := pr.Status.GetCondition(apis.ConditionSucceeded); c != nil && !c.IsUnknown() {
			return pr, nil
		}
		if time.Now().After(deadline) {
			return pr, fmt.Errorf("PipelineRun %s not done after %s", name, timeout)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return nil, err
		}
	}
}

func taskDuration(tr *pipelinev1.TaskRun) string {
	if tr.Status.StartTime == nil || tr.Status.CompletionTime == nil {
		return "?"
	}
	return tr.Status.CompletionTime.Sub(tr.Status.StartTime.Time).Round(time.Second).String()
}

func (d *Driver) summary(ctx context.Context, out *Outcome) {
	pr := out.PR
	d.printf("\n═══ agentline demo: issue #%d → pull request #%d in %s ═══\n", out.Issue, pr.Number, out.Duration.Round(time.Second))
	d.printf("Pull request  %s%s\n", pr.Title, map[bool]string{true: " (draft)", false: ""}[pr.Draft])
	d.printf("  branch      %s → %s\n", pr.Head, pr.Base)
	d.printf("  url         %s\n", pr.HTMLURL)
	if stat, err := d.diffStat(pr.Base, pr.Head); err == nil {
		d.printf("  diff\n%s\n", indent(stat, "    "))
	} else {
		d.printf("  diff        (unavailable: %v)\n", err)
	}
	if out.Lease != "" {
		d.printf("Slot          %d (Lease %s/%s), namespace %s\n", out.Slot, SystemNamespace, out.Lease, out.SlotNS)
		pods, err := d.Env.Kube.CoreV1().Pods(out.SlotNS).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				d.printf("  pod         %-40s %s\n", p.Name, podState(&p))
			}
		}
	}
	if out.Comment != "" {
		d.printf("Issue comment (sticky, by %s)\n%s\n", Bot, indent(out.Comment, "  │ "))
	}
	d.printf(`Look further
  export KUBECONFIG=%s
  kubectl -n %s get pipelineruns,taskruns        # or: tkn pr list -n %s
  kubectl -n %s get pods
  tkn pr logs %s -n %s                          # the agent's session, step by step
Next
  make demo-review   # request changes on the PR: the review pipeline runs, the agent answers
  make demo-close    # merge the PR: the slot is released and its environment destroyed
  make demo          # label another issue
`, d.Env.Kubeconfig, SystemNamespace, SystemNamespace, out.SlotNS, out.Run, SystemNamespace)
}

// diffStat is `git diff --stat base...head` in a fresh clone of the repository.
func (d *Driver) diffStat(base, head string) (string, error) {
	dir, err := os.MkdirTemp("", "demo-clone-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	run := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = GitEnv(d.state.OwnerToken)
		out, err := cmd.CombinedOutput()
		return strings.TrimRight(string(out), "\n "), err
	}
	if out, err := run("clone", "-q", d.state.CloneURL, "."); err != nil {
		return "", fmt.Errorf("git clone: %v: %s", err, out)
	}
	return run("diff", "--stat", rev(base)+"..."+rev(head))
}

// GitEnv is the environment for git commands against the demo's GitHub with token: the token
// goes through the environment (an extra HTTP header), never the command line.
func GitEnv(token string) []string {
	auth := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	return append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+auth)
}

// rev names a branch of the clone's origin, or a commit as it is.
func rev(ref string) string {
	if len(ref) == 40 && strings.Trim(ref, "0123456789abcdef") == "" {
		return ref
	}
	return "origin/" + ref
}

func podState(p *corev1.Pod) string {
	ready := 0
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%s, %d/%d ready", p.Status.Phase, ready, len(p.Spec.Containers))
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

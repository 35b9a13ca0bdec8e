package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"knative.dev/pkg/apis"

	agithub "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/webhook"
	"github.com/agentline/agentline/test/install"
	"github.com/agentline/agentline/test/stack"
)

// Names of agentline's install the demo uses.
const (
	SystemNamespace = "agentline-system"
	controllerName  = "agentline-controller"
	// StagingNamespace is the sample's ai-staging environment.
	StagingNamespace = "shopfront-ai-staging"
	project          = "shopfront"
)

// Driver runs the demo's steps against the stack and a Server's admin API.
type Driver struct {
	Env *stack.Env
	// AdminURL is the Server's admin API.
	AdminURL string
	// Out receives the progress a person follows.
	Out io.Writer
	// OpenAIKey, when set, makes the agent use the real model instead of the scripted one.
	OpenAIKey string
	// Timeout bounds each PipelineRun.
	Timeout time.Duration

	state  State
	gh     *agithub.Client // the provider package, as the human (Owner)
	target string          // the controller's webhook endpoint
}

// Step names what failed: the demo exits non-zero naming it.
type Step struct {
	Name string
	Err  error
}

func (e *Step) Error() string { return fmt.Sprintf("demo step %q failed: %v", e.Name, e.Err) }
func (e *Step) Unwrap() error { return e.Err }

func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return &Step{Name: name, Err: err}
}

func (d *Driver) printf(format string, args ...any) {
	fmt.Fprintf(d.Out, format, args...)
}

// State reads the Server's state.
func (d *Driver) State(ctx context.Context) (State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.AdminURL+"/demo/state", nil)
	if err != nil {
		return State{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return State{}, fmt.Errorf("demo server at %s: %w", d.AdminURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return State{}, fmt.Errorf("demo server: GET /demo/state: %s", resp.Status)
	}
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return State{}, err
	}
	gh, err := agithub.New(agithub.Options{BaseURL: st.GitHubURL + "/api/v3/", Token: st.OwnerToken})
	if err != nil {
		return State{}, err
	}
	d.state, d.gh = st, gh
	return st, nil
}

// Event asks the Server to deliver an event to the controller's webhook endpoint and wants the
// controller to have created a run for it.
func (d *Driver) Event(ctx context.Context, kind string, pr int) (*EventResult, error) {
	res, err := d.deliver(ctx, kind, pr)
	if err != nil {
		return nil, err
	}
	var answer webhook.Response
	_ = json.Unmarshal([]byte(res.Body), &answer)
	if res.StatusCode/100 != 2 || answer.Run == "" {
		return res, fmt.Errorf("the controller answered the %s webhook (delivery %s) with %d: %s", res.Event, res.Delivery, res.StatusCode, strings.TrimSpace(res.Body))
	}
	res.Run = answer.Run
	return res, nil
}

// deliver asks the Server to deliver an event to the controller's webhook endpoint.
func (d *Driver) deliver(ctx context.Context, kind string, pr int) (*EventResult, error) {
	target, err := d.controllerURL(ctx)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(Event{Kind: kind, Target: target, PR: pr})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.AdminURL+"/demo/event", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("demo server: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("demo server: %s event: %s %s", kind, resp.Status, strings.TrimSpace(string(b)))
	}
	var res EventResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// controllerURL is the controller's webhook endpoint through its Service's cluster IP (kube-proxy
// makes cluster IPs reachable from the node itself).
func (d *Driver) controllerURL(ctx context.Context) (string, error) {
	if d.target != "" {
		return d.target, nil
	}
	svc, err := d.Env.Kube.CoreV1().Services(SystemNamespace).Get(ctx, controllerName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("controller Service: %w", err)
	}
	d.target = "http://" + svc.Spec.ClusterIP + ":80/"
	return d.target, nil
}

// Install applies agentline's install (config/, with its ko:// images resolved to the images
// make images pushed) with the demo's settings: the GitHub fake's URL and tokens, the sample's
// agent image and model, and the ai-staging namespace's bindings (an administrator's job).
func (d *Driver) Install(ctx context.Context) error {
	st := d.state
	start := time.Now()
	objs, err := install.Build(d.Env.Stack.Root, filepath.Join(d.Env.Stack.Root, "config"))
	if err != nil {
		return err
	}
	install.Strip(objs)
	ap, err := stack.NewApplier(d.Env.Config)
	if err != nil {
		return err
	}
	agentEnv := map[string]string{"REGISTRY_HOST": d.Env.Registry}
	if d.OpenAIKey != "" {
		agentEnv["OPENAI_API_KEY"] = d.OpenAIKey
	} else {
		agentEnv["MODEL_URL"], agentEnv["LOCAL_MODEL_KEY"] = st.ModelURL, st.ModelKey
	}
	// The namespace and the Secrets first: the controller mounts them.
	if err := ap.Apply(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": SystemNamespace}}}); err != nil {
		return err
	}
	secrets := map[string]map[string]string{
		"agentline-github":         {"token": st.BotToken},
		"agentline-github-webhook": {"secret": st.WebhookSecret},
		"agentline-agent":          agentEnv,
	}
	for name, data := range secrets {
		s := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": name, "namespace": SystemNamespace},
			"stringData": toAny(data),
		}}
		if err := ap.Apply(ctx, s); err != nil {
			return err
		}
	}
	for _, o := range objs {
		b, err := o.MarshalJSON()
		if err != nil {
			return err
		}
		if err := o.UnmarshalJSON([]byte(d.Env.ResolveKo(string(b)))); err != nil {
			return err
		}
		switch {
		case o.GetKind() == "PersistentVolumeClaim" && o.GetName() == "agentline-workspace":
			// The node's local-path volumes are ReadWriteOnce; Tekton's affinity assistant keeps
			// a run's pods on the node that holds the volume.
			_ = unstructured.SetNestedStringSlice(o.Object, []string{"ReadWriteOnce"}, "spec", "accessModes")
			_ = unstructured.SetNestedField(o.Object, "4Gi", "spec", "resources", "requests", "storage")
		case o.GetKind() == "Deployment" && o.GetName() == controllerName:
			// A changed Secret restarts the controller (mounted Secrets update only after a while).
			_ = unstructured.SetNestedField(o.Object, secretsHash(secrets), "spec", "template", "metadata", "annotations", "agentline.dev/demo-secrets")
		case o.GetKind() == "ConfigMap" && o.GetName() == "agentline-config":
			for k, v := range map[string]string{
				"allowed-users": Owner, "ignored-users": Bot, "github-url": st.GitHubURL + "/api/v3/",
				"agent-image": d.Env.Registry + "/agentline/agent:latest", "max-slots": "2",
			} {
				_ = unstructured.SetNestedField(o.Object, v, "data", k)
			}
		}
		if err := ap.Apply(ctx, o); err != nil {
			return err
		}
	}
	// ai-staging is not a slot: an administrator creates its namespace and bindings once.
	staging := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, StagingNamespace)
	bindings := []string{staging}
	for _, b := range [][2]string{{"agentline-render", "agentline-slot-render"}, {"agentline-agent", "agentline-slot-agent"}} {
		sa := "agentline-run"
		if b[0] == "agentline-agent" {
			sa = "agentline-agent"
		}
		bindings = append(bindings, fmt.Sprintf(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":%q,"namespace":%q},`+
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":%q},"subjects":[{"kind":"ServiceAccount","name":%q,"namespace":%q}]}`,
			b[0], StagingNamespace, b[1], sa, SystemNamespace))
	}
	for _, j := range bindings {
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON([]byte(j)); err != nil {
			return err
		}
		if err := ap.Apply(ctx, o); err != nil {
			return err
		}
	}
	d.printf("✓ installed agentline from config/ (%d objects, images from %s) in %.0fs\n", len(objs), d.Env.Registry, time.Since(start).Seconds())
	return d.waitController(ctx)
}

func secretsHash(secrets map[string]map[string]string) string {
	b, _ := json.Marshal(secrets) // maps marshal in key order
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// waitController waits for the controller Deployment's new pods to be ready (a changed Secret
// or image rolls it).
func (d *Driver) waitController(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		dep, err := d.Env.Kube.AppsV1().Deployments(SystemNamespace).Get(ctx, controllerName, metav1.GetOptions{})
		if err == nil && dep.Status.ObservedGeneration >= dep.Generation && dep.Status.UpdatedReplicas == *dep.Spec.Replicas &&
			dep.Status.ReadyReplicas == *dep.Spec.Replicas && dep.Status.Replicas == *dep.Spec.Replicas {
			// Ready pods: wait until a signed ping is accepted through the Service (an old pod
			// with an earlier secret may still answer for a moment after a rollout).
			if err = d.pings(ctx, 3); err == nil {
				url, _ := d.controllerURL(ctx)
				d.printf("✓ controller %s/%s ready, webhook endpoint %s\n", SystemNamespace, controllerName, url)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("controller Deployment not ready after 3m (kubectl -n %s describe deploy %s): %v", SystemNamespace, controllerName, err)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// pings wants n signed pings in a row accepted.
func (d *Driver) pings(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		res, err := d.deliver(ctx, "ping", 0)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("ping answered %d: %s", res.StatusCode, strings.TrimSpace(res.Body))
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

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

// runEvent delivers an event and follows the PipelineRun it starts to its end.
func (d *Driver) runEvent(ctx context.Context, kind string, pr int) (*pipelinev1.PipelineRun, *EventResult, error) {
	res, err := d.Event(ctx, kind, pr)
	if err != nil {
		return nil, res, err
	}
	d.printf("✓ %s webhook accepted by the controller (delivery %s)\n", res.Event, res.Delivery)
	run, err := d.Env.Tekton.TektonV1().PipelineRuns(SystemNamespace).Get(ctx, res.Run, metav1.GetOptions{})
	if err != nil {
		return nil, res, err
	}
	d.printf("  PipelineRun %s/%s (pipeline %s)\n", SystemNamespace, run.Name, run.Spec.PipelineRef.Name)
	done, err := d.Follow(ctx, run.Name)
	if err != nil {
		return done, res, err
	}
	c := done.Status.GetCondition(apis.ConditionSucceeded)
	if !c.IsTrue() {
		return done, res, fmt.Errorf("PipelineRun %s %s: %s (tkn pr logs %s -n %s)", done.Name, c.Reason, c.Message, done.Name, SystemNamespace)
	}
	d.printf("  ✓ %s succeeded in %s\n", done.Name, done.Status.CompletionTime.Sub(done.Status.StartTime.Time).Round(time.Second))
	return done, res, nil
}

// Outcome is what the main scenario produced.
type Outcome struct {
	Issue    int
	Run      string
	PR       *agithub.PullRequest
	Slot     int
	Lease    string
	SlotNS   string
	Comment  string
	Duration time.Duration // labelled event to pull request
}

// Run is `make demo`: install, deploy ai-staging from main (once), file the issue labelled
// [ai-dev], follow the run to the draft pull request, and print the summary.
func (d *Driver) Run(ctx context.Context) (*Outcome, error) {
	if _, err := d.State(ctx); err != nil {
		return nil, step("demo server", err)
	}
	if err := d.resetIfStale(ctx); err != nil {
		return nil, step("reset", err)
	}
	if err := d.Install(ctx); err != nil {
		return nil, step("install", err)
	}
	if ok, err := d.stagingDeployed(ctx); err != nil {
		return nil, step("staging", err)
	} else if !ok {
		d.printf("→ push to main: deploying the ai-staging environment (services.yaml is read from it)\n")
		if _, _, err := d.runEvent(ctx, "push", 0); err != nil {
			return nil, step("staging-deploy", err)
		}
	} else {
		d.printf("✓ ai-staging already deployed from main\n")
	}
	d.printf("→ issue %q labelled [ai-dev]\n", IssueTitle)
	start := time.Now()
	run, res, err := d.runEvent(ctx, "label", 0)
	if err != nil {
		return nil, step("ai-dev", err)
	}
	out := &Outcome{Issue: res.Issue, Run: run.Name, Duration: time.Since(start)}
	if out.PR, err = d.gh.FindPullRequestForBranch(ctx, repo, branchOf(res.Issue), "all"); err != nil || out.PR == nil {
		return nil, step("pull request", fmt.Errorf("no pull request from %s: %v", branchOf(res.Issue), err))
	}
	d.printf("✓ pull request #%d %s\n", out.PR.Number, out.PR.HTMLURL)
	if err := d.fillSlot(ctx, out); err != nil {
		return nil, step("summary", err)
	}
	if out.Comment, err = d.statusComment(ctx, res.Issue); err != nil {
		return nil, step("summary", err)
	}
	d.summary(ctx, out)
	return out, nil
}

// repo is the demo repository as the provider package names it.
var repo = agithub.Repo{Owner: strings.Split(Repo, "/")[0], Name: strings.Split(Repo, "/")[1]}

// branchOf is the agent branch of an issue (agentline-config's agent-branch-prefix, default).
func branchOf(issue int) string { return "codex/issue-" + strconv.Itoa(issue) }

// statusComment returns agentline's sticky status comment on issue or PR number ("" if none).
func (d *Driver) statusComment(ctx context.Context, number int) (string, error) {
	comments, err := d.gh.ListIssueComments(ctx, repo, number)
	if err != nil {
		return "", err
	}
	for _, c := range comments {
		if c.User == Bot && strings.Contains(c.Body, agithub.Marker("status")) {
			return c.Body, nil
		}
	}
	return "", nil
}

// resetIfStale clears what an earlier demo left in the cluster when the Server is new (its
// GitHub has no issue yet): runs, slot Leases and namespaces, and the workspace volume hold
// checkouts of a repository that no longer exists.
func (d *Driver) resetIfStale(ctx context.Context) error {
	if d.state.Issue != 0 {
		return nil
	}
	tekton := d.Env.Tekton.TektonV1().PipelineRuns(SystemNamespace)
	prs, err := tekton.List(ctx, metav1.ListOptions{})
	if err != nil || len(prs.Items) == 0 {
		return err
	}
	d.printf("→ a new GitHub fake: clearing %d runs, the slots and the workspace of an earlier demo\n", len(prs.Items))
	bg := metav1.DeletePropagationForeground
	if err := tekton.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{}); err != nil {
		return err
	}
	leases := d.Env.Kube.CoordinationV1().Leases(SystemNamespace)
	if err := leases.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: slots.LabelProject + "=" + project}); err != nil {
		return err
	}
	nss, err := d.Env.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=" + project})
	if err != nil {
		return err
	}
	var gone []func() bool
	for _, ns := range nss.Items {
		if ns.Name == StagingNamespace {
			continue
		}
		if err := d.Env.Kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		name := ns.Name
		gone = append(gone, func() bool {
			_, err := d.Env.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	}
	pvcs := d.Env.Kube.CoreV1().PersistentVolumeClaims(SystemNamespace)
	if err := pvcs.Delete(ctx, "agentline-workspace", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	gone = append(gone, func() bool {
		_, err := pvcs.Get(ctx, "agentline-workspace", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	deadline := time.Now().Add(3 * time.Minute)
	for _, g := range gone {
		for !g() {
			if time.Now().After(deadline) {
				return fmt.Errorf("an earlier demo's slot namespaces or workspace PVC are not gone after 3m")
			}
			if err := sleep(ctx, time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// stagingDeployed reports whether a staging-deploy run succeeded already.
func (d *Driver) stagingDeployed(ctx context.Context) (bool, error) {
	prs, err := d.Env.Tekton.TektonV1().PipelineRuns(SystemNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, pr := range prs.Items {
		if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name == "staging-deploy" && pr.Status.GetCondition(apis.ConditionSucceeded).IsTrue() {
			return true, nil
		}
	}
	return false, nil
}

// fillSlot finds the slot Lease the issue holds and its namespace.
func (d *Driver) fillSlot(ctx context.Context, out *Outcome) error {
	leases, err := d.Env.Kube.CoordinationV1().Leases(SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=%s,%s=%s,%s=%d",
		slots.LabelProject, project, slots.LabelKind, slots.KindSlot, slots.LabelIssue, out.Issue)})
	if err != nil {
		return err
	}
	if len(leases.Items) == 0 {
		return nil
	}
	l := leases.Items[0]
	out.Lease = l.Name
	out.Slot, _ = strconv.Atoi(l.Labels[slots.LabelSlot])
	out.SlotNS = fmt.Sprintf("%s-dev-%d", project, out.Slot)
	return nil
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

// latestPR returns the open pull request of the demo's latest issue.
func (d *Driver) latestPR(ctx context.Context) (*agithub.PullRequest, error) {
	pr, err := d.gh.FindPullRequestForBranch(ctx, repo, branchOf(d.state.Issue), "open")
	if err == nil && pr == nil {
		err = fmt.Errorf("no open pull request from %s in %s: run make demo first", branchOf(d.state.Issue), Repo)
	}
	return pr, err
}

// Review is `make demo-review`: changes requested on the latest agent PR with one comment; the
// review pipeline runs; the PR gets a new commit.
func (d *Driver) Review(ctx context.Context) (*agithub.PullRequest, error) {
	if _, err := d.State(ctx); err != nil {
		return nil, step("demo server", err)
	}
	pr, err := d.latestPR(ctx)
	if err != nil {
		return nil, step("pull request", err)
	}
	d.printf("→ %s requests changes on #%d: %q\n", Owner, pr.Number, ReviewComment)
	if _, _, err := d.runEvent(ctx, "review", pr.Number); err != nil {
		return nil, step("ai-dev-review", err)
	}
	after, err := d.gh.GetPullRequest(ctx, repo, pr.Number)
	if err != nil {
		return nil, step("summary", err)
	}
	d.printf("✓ #%d has a new commit: %s → %s\n", pr.Number, short(pr.HeadSHA), short(after.HeadSHA))
	if stat, err := d.diffStat(pr.HeadSHA, after.HeadSHA); err == nil {
		d.printf("%s\n", indent(stat, "    "))
	}
	if c, err := d.statusComment(ctx, pr.Number); err == nil && c != "" {
		d.printf("Reply on #%d (sticky, by %s)\n%s\n", pr.Number, Bot, indent(c, "  │ "))
	}
	return after, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Close is `make demo-close`: the latest agent PR is merged; cleanup releases the slot and
// destroys its environment.
func (d *Driver) Close(ctx context.Context) (*Outcome, error) {
	if _, err := d.State(ctx); err != nil {
		return nil, step("demo server", err)
	}
	pr, err := d.latestPR(ctx)
	if err != nil {
		return nil, step("pull request", err)
	}
	issue := d.state.Issue
	out := &Outcome{Issue: issue, PR: pr}
	_ = d.fillSlot(ctx, out)
	d.printf("→ %s merges #%d (%s)\n", Owner, pr.Number, pr.Head)
	if _, _, err := d.runEvent(ctx, "close", pr.Number); err != nil {
		return nil, step("cleanup", err)
	}
	left := &Outcome{Issue: issue}
	if err := d.fillSlot(ctx, left); err != nil {
		return nil, step("summary", err)
	}
	if left.Lease != "" {
		return nil, step("cleanup", fmt.Errorf("slot Lease %s still held by issue #%d", left.Lease, issue))
	}
	d.printf("✓ slot %d released (Lease %s gone)\n", out.Slot, out.Lease)
	if out.SlotNS != "" {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, err := d.Env.Kube.CoreV1().Namespaces().Get(ctx, out.SlotNS, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				d.printf("✓ environment destroyed (namespace %s deleted)\n", out.SlotNS)
				break
			}
			if time.Now().After(deadline) {
				return nil, step("cleanup", fmt.Errorf("namespace %s still there after 2m", out.SlotNS))
			}
			if err := sleep(ctx, time.Second); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

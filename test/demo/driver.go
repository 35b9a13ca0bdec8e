package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"

	agithub "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/webhook"
	"github.com/agentline/agentline/test/stack"
)

// Names of agentline's install the demo uses.
const (
	SystemNamespace = "agentline-system"
	controllerName  = "agentline-controller"
	// StagingNamespace is the sample's ai-staging environment.
	StagingNamespace = "demo-shopfront-ai-staging"
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

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
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

// slotNamespace is the sample's `ai` namespace pattern for a slot (testdata/sample/services.yaml).
func slotNamespace(slot int) string { return fmt.Sprintf("demo-%s-dev-%d", project, slot) }

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
	out.SlotNS = slotNamespace(out.Slot)
	return nil
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

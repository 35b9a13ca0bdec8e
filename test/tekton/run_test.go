package tekton_test

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"knative.dev/pkg/apis"

	"github.com/agentline/agentline/test/stack"
)

// install creates every Task and Pipeline (ko:// images replaced by placeholders) in ns through
// the API server, for real.
func install(t *testing.T, env *stack.Env, ns string) {
	t.Helper()
	ap, err := stack.NewApplier(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	var objs []*unstructured.Unstructured
	for _, dir := range []string{root + "/tasks", root + "/pipelines"} {
		objs = append(objs, build(t, dir)...)
	}
	ctx := context.Background()
	for _, o := range objs {
		if err := placeholderImages(o); err != nil {
			t.Fatal(err)
		}
		o.SetNamespace(ns)
		if err := ap.Apply(ctx, o); err != nil {
			t.Fatalf("API server refused %s %s (%s): %v", o.GetKind(), o.GetName(), o.GetAnnotations()[sourceAnnotation], err)
		}
	}
}

// issueParams are the shared pipeline params of an event on issue 7 of acme/shop.
func issueParams() map[string]string {
	return map[string]string{
		"repo": "acme/shop", "repo-url": "https://github.example.test/acme/shop.git", "issue": "7", "pr": "",
		"focus-issue": "", "sha": "", "base": "main", "head": "", "sender": "alice", "lang": "en",
		"model": "gpt-test", "reasoning-effort": "high", "key": "acme/shop#7", "delivery": "d-7",
	}
}

// fakeResults are plausible results of every Task, by Task name, for the kwok node to report.
func fakeResults(slot int, newEnv bool) map[string]map[string]string {
	ns := fmt.Sprintf("shop-dev-%d", slot)
	return map[string]map[string]string{
		"slot-lease":  {"slot": strconv.Itoa(slot), "namespace": ns, "new-env": strconv.FormatBool(newEnv), "host": fmt.Sprintf("dev-%d.shop.example.test", slot), "held": "true"},
		"render":      {"namespace": ns, "infra-ready": "true", "objects": "12"},
		"kaniko-wrap": {"IMAGES": `[{"name":"api","ref":"r/api:1","digest":"sha256:aa","action":"built"}]`, "IMAGE_URL": "r/api:1", "IMAGE_DIGEST": "sha256:aa"},
		"agent-run":   {"session-id": "sess-1", "final-message": "Add the login form", "input-tokens": "1200", "output-tokens": "300", "commands": "4", "changed": "true"},
		"pr-apply":    {"branch": "codex/issue-7", "commit": "0123456789abcdef", "pushed": "true", "pr-number": "12", "pr-url": "https://github.example.test/acme/shop/pull/12"},
	}
}

// resultsFor maps fake results by Task onto the pipeline tasks of p, as kwok annotations.
func resultsFor(p *pipelinev1.Pipeline, byTask map[string]map[string]string) map[string]string {
	perPT := map[string]map[string]string{}
	for _, pt := range append(append([]pipelinev1.PipelineTask{}, p.Spec.Tasks...), p.Spec.Finally...) {
		if r, ok := byTask[pt.TaskRef.Name]; ok {
			perPT[pt.Name] = r
		}
	}
	return stack.FakeResults(perPT)
}

// startRun creates a PipelineRun of pipeline with params and annotations; the workspaces are
// emptyDirs (nothing is mounted on the kwok node; the real install binds a PVC and Secrets).
func startRun(t *testing.T, env *stack.Env, ns, pipeline string, params map[string]string, annotations map[string]string) string {
	t.Helper()
	var ps pipelinev1.Params
	for _, k := range sortedKeys(params) {
		ps = append(ps, pipelinev1.Param{Name: k, Value: *pipelinev1.NewStructuredValues(params[k])})
	}
	empty := func(name string) pipelinev1.WorkspaceBinding {
		return pipelinev1.WorkspaceBinding{Name: name, EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	pr := &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pipeline + "-", Annotations: annotations},
		Spec: pipelinev1.PipelineRunSpec{
			PipelineRef: &pipelinev1.PipelineRef{Name: pipeline},
			Params:      ps,
			Workspaces:  []pipelinev1.WorkspaceBinding{empty("source"), empty("github-token"), empty("agent-kube")},
			Timeouts:    &pipelinev1.TimeoutFields{Pipeline: &metav1.Duration{Duration: 5 * time.Minute}},
		},
	}
	got, err := env.Tekton.TektonV1().PipelineRuns(ns).Create(context.Background(), pr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s PipelineRun: %v", pipeline, err)
	}
	return got.Name
}

// waitDone polls the PipelineRun until it has finished.
func waitDone(t *testing.T, env *stack.Env, ns, name string) *pipelinev1.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pr, err := env.Tekton.TektonV1().PipelineRuns(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c := pr.Status.GetCondition(apis.ConditionSucceeded); c != nil && !c.IsUnknown() {
			return pr
		}
		if time.Now().After(deadline) {
			t.Fatalf("PipelineRun %s/%s not done after 3m: %+v", ns, name, pr.Status.Conditions)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// taskRuns returns the PipelineRun's TaskRuns by pipeline task name.
func taskRuns(t *testing.T, env *stack.Env, ns, pr string) map[string]*pipelinev1.TaskRun {
	t.Helper()
	list, err := env.Tekton.TektonV1().TaskRuns(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + pr})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pipelinev1.TaskRun{}
	for i := range list.Items {
		tr := &list.Items[i]
		out[tr.Labels["tekton.dev/pipelineTask"]] = tr
	}
	return out
}

func param(tr *pipelinev1.TaskRun, name string) string {
	for _, p := range tr.Spec.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return "<unset>"
}

func succeeded(pr *pipelinev1.PipelineRun) (bool, string) {
	c := pr.Status.GetCondition(apis.ConditionSucceeded)
	return c.IsTrue(), fmt.Sprintf("%s: %s", c.Reason, c.Message)
}

func skipped(pr *pipelinev1.PipelineRun) map[string]pipelinev1.SkippingReason {
	out := map[string]pipelinev1.SkippingReason{}
	for _, s := range pr.Status.SkippedTasks {
		out[s.Name] = s.Reason
	}
	return out
}

func mustSucceed(t *testing.T, trs map[string]*pipelinev1.TaskRun, names ...string) {
	t.Helper()
	for _, n := range names {
		tr, ok := trs[n]
		if !ok {
			t.Errorf("pipeline task %s did not run", n)
			continue
		}
		if c := tr.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
			t.Errorf("pipeline task %s: %s: %s", n, c.Reason, c.Message)
		}
	}
}

// TestEveryTaskRuns runs each Task on its own (a TaskRun with its required params) and wants
// the results the step reports to be accepted as the Task's declared results.
func TestEveryTaskRuns(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	install(t, env, ns)
	res := fakeResults(2, true)
	ctx := context.Background()
	for _, name := range taskNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			task := loadTask(t, name)
			var ps pipelinev1.Params
			for _, p := range task.Spec.Params {
				if p.Default == nil {
					ps = append(ps, pipelinev1.Param{Name: p.Name, Value: *pipelinev1.NewStructuredValues("x-" + p.Name)})
				}
			}
			var ws []pipelinev1.WorkspaceBinding
			for _, w := range task.Spec.Workspaces {
				ws = append(ws, pipelinev1.WorkspaceBinding{Name: w.Name, EmptyDir: &corev1.EmptyDirVolumeSource{}})
			}
			// Without a pipeline task, kwok keys the results by the Task's name (tekton.dev/task).
			tr := &pipelinev1.TaskRun{
				ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Annotations: stack.FakeResults(map[string]map[string]string{name: res[name]})},
				Spec:       pipelinev1.TaskRunSpec{TaskRef: &pipelinev1.TaskRef{Name: name}, Params: ps, Workspaces: ws},
			}
			tr, err := env.Tekton.TektonV1().TaskRuns(ns).Create(ctx, tr, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for {
				tr, err = env.Tekton.TektonV1().TaskRuns(ns).Get(ctx, tr.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if c := tr.Status.GetCondition(apis.ConditionSucceeded); c != nil && !c.IsUnknown() {
					if !c.IsTrue() {
						t.Fatalf("TaskRun %s: %s: %s", tr.Name, c.Reason, c.Message)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("TaskRun %s not done after 2m", tr.Name)
				}
				time.Sleep(250 * time.Millisecond)
			}
			got := map[string]string{}
			for _, r := range tr.Status.Results {
				got[r.Name] = r.Value.StringVal
			}
			if !maps.Equal(got, res[name]) {
				t.Errorf("TaskRun results %v, want %v", got, res[name])
			}
		})
	}
}

// TestEveryPipelineRuns runs each Pipeline with every Task succeeding: all its tasks run (the
// environment is new), the release in finally is skipped, and the run succeeds.
func TestEveryPipelineRuns(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	install(t, env, ns)
	for _, name := range pipelineNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := loadPipeline(t, name)
			params := issueParams()
			if name == "cleanup" || strings.HasSuffix(name, "-review") {
				params["pr"] = "12"
			}
			if name == "staging-deploy" {
				params["sha"], params["key"], params["issue"] = "0123456789abcdef", "acme/shop@main", ""
			}
			pr := waitDone(t, env, ns, startRun(t, env, ns, name, params, resultsFor(p, fakeResults(1, true))))
			if ok, why := succeeded(pr); !ok {
				t.Fatalf("%s failed: %s", name, why)
			}
			trs := taskRuns(t, env, ns, pr.Name)
			var want []string
			for _, pt := range p.Spec.Tasks {
				want = append(want, pt.Name)
			}
			mustSucceed(t, trs, want...)
			sk := skipped(pr)
			for _, f := range p.Spec.Finally {
				if f.Name == "release" && name != "cleanup" {
					if sk["release"] != pipelinev1.WhenExpressionsSkip {
						t.Errorf("a successful run must keep its slot: release skipped=%q", sk["release"])
					}
					continue
				}
				mustSucceed(t, trs, f.Name)
			}
		})
	}
}

// TestAIDevNewSlotBuildsTheEnvironment: a new slot runs images and apply, and the slot-lease
// results reach every task that uses the slot.
func TestAIDevNewSlotBuildsTheEnvironment(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	install(t, env, ns)
	p := loadPipeline(t, "ai-dev")
	res := fakeResults(3, true)
	pr := waitDone(t, env, ns, startRun(t, env, ns, "ai-dev", issueParams(), resultsFor(p, res)))
	if ok, why := succeeded(pr); !ok {
		t.Fatalf("ai-dev failed: %s", why)
	}
	trs := taskRuns(t, env, ns, pr.Name)
	mustSucceed(t, trs, "lease", "checkout", "images", "apply", "agent", "push", "link", "report")
	if _, ok := trs["release"]; ok {
		t.Error("release ran although the run succeeded")
	}
	lease := res["slot-lease"]
	tree := "agent/envs/" + lease["slot"] + "/src"
	for _, c := range []struct{ task, param, want string }{
		{"lease", "key", "acme/shop#7"},
		{"lease", "command", "acquire"},
		{"checkout", "workdir", tree},
		{"checkout", "issue", "7"},
		{"images", "slot", lease["slot"]},
		{"images", "namespace", lease["namespace"]},
		{"images", "workdir", tree},
		{"apply", "slot", lease["slot"]},
		{"apply", "namespace", lease["namespace"]},
		{"apply", "env", "ai"},
		{"agent", "namespace", lease["namespace"]},
		{"agent", "host", lease["host"]},
		{"agent", "slot", lease["slot"]},
		{"agent", "kind", "dev_issue"},
		{"agent", "model", "gpt-test"},
		{"push", "summary", res["agent-run"]["final-message"]},
		{"push", "workdir", tree},
		{"link", "pr", res["pr-apply"]["pr-number"]},
		{"report", "namespace", lease["namespace"]},
		{"report", "slot", lease["slot"]},
	} {
		tr, ok := trs[c.task]
		if !ok {
			continue
		}
		if got := param(tr, c.param); got != c.want {
			t.Errorf("%s param %s = %q, want %q", c.task, c.param, got, c.want)
		}
	}
	results := map[string]string{}
	for _, r := range pr.Status.Results {
		results[r.Name] = r.Value.StringVal
	}
	if results["pr-url"] != res["pr-apply"]["pr-url"] || results["namespace"] != lease["namespace"] {
		t.Errorf("pipeline results %v: want pr-url and namespace from the tasks", results)
	}
}

// TestAIDevExistingSlotSkipsTheBuild: with new-env=false, images and apply are skipped by their
// when expressions and the rest of the run still happens.
func TestAIDevExistingSlotSkipsTheBuild(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	install(t, env, ns)
	p := loadPipeline(t, "ai-dev")
	pr := waitDone(t, env, ns, startRun(t, env, ns, "ai-dev", issueParams(), resultsFor(p, fakeResults(2, false))))
	if ok, why := succeeded(pr); !ok {
		t.Fatalf("ai-dev failed: %s", why)
	}
	trs := taskRuns(t, env, ns, pr.Name)
	sk := skipped(pr)
	for _, n := range []string{"images", "apply"} {
		if _, ran := trs[n]; ran {
			t.Errorf("%s ran although the environment exists", n)
		}
		if sk[n] != pipelinev1.WhenExpressionsSkip {
			t.Errorf("%s: skip reason %q, want %q", n, sk[n], pipelinev1.WhenExpressionsSkip)
		}
	}
	mustSucceed(t, trs, "lease", "checkout", "agent", "push", "link", "report")
}

// TestAgentFailureReleasesTheSlot: a failing agent fails the run, nothing is pushed, and the
// finally tasks report and give the slot back.
func TestAgentFailureReleasesTheSlot(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	install(t, env, ns)
	p := loadPipeline(t, "ai-dev")
	ann := resultsFor(p, fakeResults(4, true))
	maps.Copy(ann, stack.FailTask("agent", 1))
	pr := waitDone(t, env, ns, startRun(t, env, ns, "ai-dev", issueParams(), ann))
	if ok, _ := succeeded(pr); ok {
		t.Fatal("ai-dev succeeded although the agent failed")
	}
	trs := taskRuns(t, env, ns, pr.Name)
	if tr, ok := trs["agent"]; !ok || !tr.Status.GetCondition(apis.ConditionSucceeded).IsFalse() {
		t.Fatalf("agent should have run and failed")
	}
	for _, n := range []string{"push", "link"} {
		if _, ran := trs[n]; ran {
			t.Errorf("%s ran after the agent failed", n)
		}
	}
	mustSucceed(t, trs, "release", "report")
	if tr := trs["release"]; tr != nil {
		for name, want := range map[string]string{"command": "release", "key": "acme/shop#7", "env": "ai"} {
			if got := param(tr, name); got != want {
				t.Errorf("release param %s = %q, want %q", name, got, want)
			}
		}
	}
}

// TestCleanupWithoutSlotSucceeds: a key that holds no slot (a run cancelled while queued) has
// nothing to destroy or release; cleanup still deletes the branch and succeeds.
func TestCleanupWithoutSlotSucceeds(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	install(t, env, ns)
	p := loadPipeline(t, "cleanup")
	results := fakeResults(1, false)
	results["slot-lease"] = map[string]string{"slot": "0", "namespace": "", "host": "", "held": "false"}
	params := issueParams()
	params["pr"] = "12"
	pr := waitDone(t, env, ns, startRun(t, env, ns, "cleanup", params, resultsFor(p, results)))
	if ok, why := succeeded(pr); !ok {
		t.Fatalf("cleanup without a slot failed: %s", why)
	}
	sk := skipped(pr)
	for _, task := range []string{"destroy", "release"} {
		if sk[task] != pipelinev1.WhenExpressionsSkip {
			t.Errorf("%s must be skipped when no slot is held, skip reason %q", task, sk[task])
		}
	}
	mustSucceed(t, taskRuns(t, env, ns, pr.Name), "lease", "branch")
}

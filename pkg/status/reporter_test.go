package status

import (
	"context"
	"strings"
	"testing"
	"time"

	gh "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/queue"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/test/fakegithub"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonfake "github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

const repo = "acme/shop"

func newRun(name, key, kind string, created time.Time) *v1.PipelineRun {
	return &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "agentline-system", CreationTimestamp: metav1.NewTime(created),
			Labels:      map[string]string{runs.LabelKind: kind, runs.LabelState: runs.StateQueued},
			Annotations: map[string]string{runs.AnnotationKey: key, runs.AnnotationRepo: repo}},
		Spec: v1.PipelineRunSpec{Status: v1.PipelineRunSpecStatusPending},
	}
}

func running(pr *v1.PipelineRun) *v1.PipelineRun {
	pr = pr.DeepCopy()
	pr.Spec.Status = ""
	pr.Labels[runs.LabelState] = queue.StateRunning
	pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionUnknown}}}
	return pr
}

func done(pr *v1.PipelineRun, ok bool, results map[string]string) *v1.PipelineRun {
	pr = running(pr)
	st := corev1.ConditionTrue
	if !ok {
		st = corev1.ConditionFalse
	}
	pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: st}}}
	for k, v := range results {
		pr.Status.Results = append(pr.Status.Results, v1.PipelineRunResult{Name: k, Value: *v1.NewStructuredValues(v)})
	}
	return pr
}

func setup(t *testing.T) (*fakegithub.Server, *gh.Client) {
	s := fakegithub.New(t)
	s.CreateRepo(repo, fakegithub.RepoOptions{})
	tok := s.AddUser("agentline-bot")
	s.SetPermission(repo, "agentline-bot", "write")
	s.AddIssue(repo, fakegithub.Issue{Number: 7, Title: "Add cart"})
	c, err := gh.New(gh.Options{BaseURL: s.APIURL(), Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStickyCommentIsCoalescedAndKeepsEveryState(t *testing.T) {
	s, c := setup(t)
	r := &Reporter{GitHub: c, Interval: 20 * time.Millisecond,
		Config: func() Config { return Config{Language: "en", DashboardURL: "https://dash.example/"} }}
	t0 := time.Now()
	pr := newRun("ai-dev-1", repo+"#7", "ai-dev", t0)
	// Many reconciles while queued: positions 3, 2, 1 → one queued edit (the newest).
	for pos := 3; pos >= 1; pos-- {
		r.Queue(queue.Plan{Waiting: []queue.Waiting{{Run: queue.Run{Name: pr.Name}, Position: pos}}})
		r.Observe(pr)
	}
	r.Observe(running(pr))
	r.Observe(running(pr)) // an identical observation adds nothing
	r.Observe(done(pr, true, map[string]string{ResultPRURL: "https://github.example/acme/shop/pull/9", ResultHost: "shop-dev-2.example", ResultSummary: "Added the cart."}))
	if n := r.Pending(); n != 3 {
		t.Fatalf("%d snapshots pending, want 3 (queued, running, succeeded)", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	var cm fakegithub.Comment
	waitFor(t, "succeeded comment", func() bool {
		cs := s.Comments(repo, 7)
		if len(cs) == 1 {
			cm = cs[0]
		}
		return len(cs) == 1 && strings.Contains(cm.Body, "succeeded")
	})
	if len(s.Comments(repo, 7)) != 1 {
		t.Fatalf("want one sticky comment, got %d", len(s.Comments(repo, 7)))
	}
	if len(cm.Revisions) != 3 {
		t.Fatalf("revisions %q, want queued, running, succeeded", cm.Revisions)
	}
	for i, want := range []string{"is queued (position 1)", "is running as PipelineRun [`ai-dev-1`](https://dash.example/#/namespaces/agentline-system/pipelineruns/ai-dev-1)", "succeeded"} {
		if !strings.Contains(cm.Revisions[i], want) || !strings.HasPrefix(cm.Revisions[i], gh.Marker(Marker)) {
			t.Errorf("revision %d = %q, want marker and %q", i, cm.Revisions[i], want)
		}
	}
	for _, want := range []string{"https://github.example/acme/shop/pull/9", "https://shop-dev-2.example", "> Added the cart."} {
		if !strings.Contains(cm.Body, want) {
			t.Errorf("final comment lacks %q:\n%s", want, cm.Body)
		}
	}
	if n := s.CallCount("POST /repos/{owner}/{repo}/issues/{issue_number}/comments"); n != 1 {
		t.Errorf("%d comments created, want 1", n)
	}

	// A later run of the same key edits the same comment; an older run's news is ignored.
	pr2 := newRun("ai-dev-2", repo+"#7", "ai-dev", t0.Add(time.Second))
	r.Observe(pr2)
	r.Observe(done(pr, false, nil))
	waitFor(t, "second run queued", func() bool {
		cs := s.Comments(repo, 7)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "ai-dev-2")
	})
	if cs := s.Comments(repo, 7); len(cs) != 1 || strings.Contains(cs[0].Body, "failed") {
		t.Fatalf("comments %+v", cs)
	}
}

func TestRussianAndFailure(t *testing.T) {
	s, c := setup(t)
	tk := tektonfake.NewSimpleClientset()
	r := &Reporter{GitHub: c, Tekton: tk, Interval: -1, Config: func() Config { return Config{Language: "ru"} }}
	pr := done(newRun("ai-dev-x", repo+"#7", "ai-dev", time.Now()), false, nil)
	pr.Status.ChildReferences = []v1.ChildStatusReference{{Name: "ai-dev-x-agent", PipelineTaskName: "agent", TypeMeta: runtimeTaskRun()}}
	tr := &v1.TaskRun{ObjectMeta: metav1.ObjectMeta{Name: "ai-dev-x-agent", Namespace: pr.Namespace}}
	tr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse}}}
	if _, err := tk.TektonV1().TaskRuns(pr.Namespace).Create(context.Background(), tr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.TektonV1().PipelineRuns(pr.Namespace).Create(context.Background(), pr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.Observe(pr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	waitFor(t, "failure comment", func() bool { return len(s.Comments(repo, 7)) == 1 })
	body := s.Comments(repo, 7)[0].Body
	for _, want := range []string{"завершился с ошибкой", "в задаче `agent`", "/retry"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
}

func TestStagingCommitStatus(t *testing.T) {
	s, c := setup(t)
	sha, ok := s.BranchSHA(repo, "main")
	if !ok {
		t.Fatal("no main branch")
	}
	r := &Reporter{GitHub: c, Interval: -1}
	pr := newRun("staging-deploy-1", repo+"@main", "staging-deploy", time.Now())
	pr.Spec.Params = v1.Params{{Name: "sha", Value: *v1.NewStructuredValues(sha)}}
	r.Observe(pr)
	r.Observe(running(pr))
	r.Observe(done(pr, true, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	waitFor(t, "success status", func() bool {
		st := s.Statuses(repo, sha)
		return len(st) > 0 && st[len(st)-1].State == "success"
	})
	var states []string
	for _, st := range s.Statuses(repo, sha) {
		if st.Context != CommitContext {
			t.Errorf("context %q", st.Context)
		}
		states = append(states, st.State)
	}
	if strings.Join(states, ",") != "pending,pending,success" {
		t.Errorf("states %v, want pending (queued), pending (running), success", states)
	}
	if n := s.CallCount("POST /repos/{owner}/{repo}/issues/{issue_number}/comments"); n != 0 {
		t.Errorf("a branch key got %d comments", n)
	}
}

func TestMask(t *testing.T) {
	in := "token=abc123\nusing ghp_0123456789abcdefghijABCDEFGHIJ and s3cretvalue\n" +
		"Authorization: Bearer xyz.abc\nclone https://user:pa55@example.com/x.git\n"
	out := Mask(in, []string{"s3cretvalue", "ab"})
	for _, leak := range []string{"abc123", "ghp_0123", "s3cretvalue", "xyz.abc", "pa55"} {
		if strings.Contains(out, leak) {
			t.Errorf("masked output still has %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "https://***@example.com") || !strings.Contains(out, "using *** and ***") {
		t.Errorf("unexpected masking:\n%s", out)
	}
	if got := Tail("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("Tail = %q", got)
	}
}

func runtimeTaskRun() runtime.TypeMeta {
	return runtime.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "TaskRun"}
}

package runs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/router"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/agentline/agentline/test/fakegithub"
)

const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

// routeFrom routes a shared payload fixture with dotted-path field overrides.
func routeFrom(t *testing.T, file string, deliveryID string, over map[string]any) *router.Route {
	t.Helper()
	raw := fakegithub.MustPayload(t, file, over)
	cfg := router.DefaultConfig()
	cfg.Model = "gpt-test"
	event, _, _ := strings.Cut(file, ".")
	d, err := router.Decide(event, deliveryID, raw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Route == nil {
		t.Fatalf("fixture %s ignored: %s %s", file, d.Reason, d.Detail)
	}
	return d.Route
}

func reviewRoute(t *testing.T) *router.Route {
	return routeFrom(t, "pull_request_review.submitted.json", delivery, map[string]any{
		"review.state": "changes_requested", "pull_request.head": map[string]any{
			"ref": "codex/issue-7", "sha": "abc123", "repo": map[string]any{"full_name": "Codertocat/Hello-World"}},
	})
}

func TestBuild(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ServiceAccountName = "agentline-runner"
	pr, err := Build(reviewRoute(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Name != "ai-dev-review-"+delivery || pr.Namespace != "agentline-system" {
		t.Fatalf("name %s/%s", pr.Namespace, pr.Name)
	}
	if pr.APIVersion != "tekton.dev/v1" || pr.Kind != "PipelineRun" {
		t.Fatalf("type meta %s %s", pr.APIVersion, pr.Kind)
	}
	if pr.Spec.PipelineRef == nil || pr.Spec.PipelineRef.Name != "ai-dev-review" {
		t.Fatalf("pipelineRef %+v", pr.Spec.PipelineRef)
	}
	if pr.Spec.Status != v1.PipelineRunSpecStatusPending {
		t.Fatalf("status %q", pr.Spec.Status)
	}
	if pr.Spec.Timeouts == nil || pr.Spec.Timeouts.Pipeline.Duration != PipelineTimeout {
		t.Fatalf("timeouts %+v", pr.Spec.Timeouts)
	}
	if pt := pr.Spec.TaskRunTemplate.PodTemplate; pt == nil || *pt.SecurityContext.FSGroup != RunFSGroup {
		t.Fatalf("podTemplate %+v", pt)
	}
	wantLabels := map[string]string{
		LabelRepo: "Codertocat.Hello-World", LabelIssue: "7", LabelPR: "2", LabelKind: "ai-dev-review",
		LabelState: "queued", LabelDelivery: delivery,
	}
	if !reflect.DeepEqual(pr.Labels, wantLabels) {
		t.Fatalf("labels %v, want %v", pr.Labels, wantLabels)
	}
	wantAnn := map[string]string{AnnotationRepo: "Codertocat/Hello-World", AnnotationKey: "Codertocat/Hello-World#2"}
	if !reflect.DeepEqual(pr.Annotations, wantAnn) {
		t.Fatalf("annotations %v, want %v", pr.Annotations, wantAnn)
	}
	var names []string
	got := map[string]string{}
	for _, p := range pr.Spec.Params {
		if p.Value.Type != v1.ParamTypeString {
			t.Fatalf("param %s is %s, want string", p.Name, p.Value.Type)
		}
		names = append(names, p.Name)
		got[p.Name] = p.Value.StringVal
	}
	if !reflect.DeepEqual(names, router.ParamNames) {
		t.Fatalf("param names %v, want %v", names, router.ParamNames)
	}
	for k, v := range map[string]string{"repo": "Codertocat/Hello-World", "pr": "2", "issue": "7", "sha": "abc123",
		"head": "codex/issue-7", "base": "master", "model": "gpt-test", "lang": "en", "key": "Codertocat/Hello-World#2", "delivery": delivery,
		"repo-url": "https://github.com/Codertocat/Hello-World.git", "sender": "Codertocat"} {
		if got[k] != v {
			t.Errorf("param %s = %q, want %q", k, got[k], v)
		}
	}
	if len(pr.Spec.Workspaces) != 1 || pr.Spec.Workspaces[0].Name != "source" || pr.Spec.Workspaces[0].VolumeClaimTemplate == nil {
		t.Fatalf("workspaces %+v", pr.Spec.Workspaces)
	}
	if pr.Spec.TaskRunTemplate.ServiceAccountName != "agentline-runner" {
		t.Fatalf("service account %q", pr.Spec.TaskRunTemplate.ServiceAccountName)
	}
	// Workspaces are copies: editing the run must not edit the config.
	pr.Spec.Workspaces[0].Name = "changed"
	if cfg.Workspaces[0].Name != "source" {
		t.Fatal("Build shares workspace bindings with the config")
	}
}

func TestBuildPushHasEmptyIssueLabels(t *testing.T) {
	pr, err := Build(routeFrom(t, "push.with-new-branch.json", delivery, nil), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := pr.Labels[LabelIssue]; !ok || v != "" {
		t.Fatalf("push run issue label %q present=%v, want present and empty", v, ok)
	}
	if v, ok := pr.Labels[LabelPR]; !ok || v != "" {
		t.Fatalf("push run pr label %q present=%v, want present and empty", v, ok)
	}
	if pr.Annotations[AnnotationKey] != "Codertocat/Hello-World@master" || pr.Spec.PipelineRef.Name != "staging-deploy" {
		t.Fatalf("key %q pipeline %q", pr.Annotations[AnnotationKey], pr.Spec.PipelineRef.Name)
	}
}

func TestBuildRejects(t *testing.T) {
	cancel := routeFrom(t, "issue_comment.created.json", delivery, map[string]any{"comment.body": "/cancel"})
	if _, err := Build(cancel, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("cancel route: err = %v", err)
	}
	r := reviewRoute(t)
	r.RunName = "Not_A_Name"
	if _, err := Build(r, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "Not_A_Name") {
		t.Fatalf("bad run name: err = %v", err)
	}
	if _, err := Build(nil, DefaultConfig()); err == nil {
		t.Fatal("nil route accepted")
	}
}

func TestRepoLabel(t *testing.T) {
	if got := RepoLabel("Codertocat/Hello-World"); got != "Codertocat.Hello-World" {
		t.Fatalf("RepoLabel = %q", got)
	}
	long := "some-organisation/" + strings.Repeat("r", 80)
	long2 := "some-organisation/" + strings.Repeat("r", 79) + "s"
	for _, in := range []string{long, long2, "o/repo_with.dots", "o/-lead", "ä/ü", "/"} {
		v := RepoLabel(in)
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("RepoLabel(%q) = %q: %v", in, v, errs)
		}
		if v != RepoLabel(in) {
			t.Errorf("RepoLabel(%q) not deterministic", in)
		}
	}
	if RepoLabel(long) == RepoLabel(long2) {
		t.Fatal("long names collide")
	}
	if RepoLabel("o/-lead") == RepoLabel("o/lead") {
		t.Fatal("sanitised name collides with a real one")
	}
}

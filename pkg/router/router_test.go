package router

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/agentline/agentline/test/fakegithub"
)

const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

func testConfig() Config {
	c := DefaultConfig()
	c.AllowedUsers = []string{"codertocat"}
	return c
}

// TestEveryFixture routes every payload file unchanged; a new fixture without an expectation
// fails the test.
func TestEveryFixture(t *testing.T) {
	want := map[string]Reason{
		"issue_comment.created.json":                           ReasonNoTrigger,
		"issue_comment.created.with-installation.json":         ReasonNoTrigger,
		"issue_comment.edited.json":                            ReasonUnsupportedAction,
		"issues.labeled.json":                                  ReasonLabelNotTrigger,
		"issues.labeled.with-organization.json":                ReasonLabelNotTrigger,
		"issues.opened.json":                                   ReasonUnsupportedAction,
		"issues.unlabeled.json":                                ReasonUnsupportedAction,
		"ping.json":                                            ReasonPing,
		"pull_request.closed.json":                             ReasonNotAgentBranch,
		"pull_request.opened.json":                             ReasonUnsupportedAction,
		"pull_request.synchronize.json":                        ReasonUnsupportedAction,
		"pull_request_review.dismissed.json":                   ReasonUnsupportedAction,
		"pull_request_review.submitted.json":                   ReasonReviewNotChangesRequested,
		"pull_request_review.submitted.with-organization.json": ReasonReviewNotChangesRequested,
		"push.json":                   ReasonNotDefaultBranch,
		"push.with-installation.json": ReasonNotDefaultBranch,
		"push.with-new-branch.json":   "", // routed: staging-deploy
	}
	names := fakegithub.FixtureNames()
	if len(names) == 0 {
		t.Fatal("no webhook fixtures found in the shared material")
	}
	seen := 0
	for _, name := range names {
		file := name + ".json"
		seen++
		t.Run(file, func(t *testing.T) {
			reason, ok := want[file]
			if !ok {
				t.Fatalf("no expectation for fixture %s", file)
			}
			d, err := Decide(eventOf(file), delivery, fixture(t, file, nil), testConfig())
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Reason != reason {
				t.Fatalf("reason = %q (%s), want %q", d.Reason, d.Detail, reason)
			}
			if (reason == "") == d.Ignored() {
				t.Fatalf("Ignored() = %v with reason %q", d.Ignored(), d.Reason)
			}
			if d.Repo == "" || d.Sender.Login == "" {
				t.Fatalf("decision lacks repo/sender: %+v", d)
			}
			if reason != "" && d.Detail == "" {
				t.Fatalf("ignored without detail")
			}
		})
	}
	if seen != len(want) {
		t.Fatalf("saw %d fixtures, table has %d", seen, len(want))
	}
}

type wantRoute struct {
	action   Action
	pipeline string
	key      string
	issue    int
	pr       int
	params   map[string]string
}

func TestRoutes(t *testing.T) {
	const repo = "Codertocat/Hello-World"
	const cloneURL = "https://github.com/Codertocat/Hello-World.git"
	label := func(name string) []any { return []any{map[string]any{"name": name}} }
	tests := []struct {
		name   string
		file   string
		event  string // defaults to the file's event
		over   map[string]any
		cfg    func(*Config)
		reason Reason
		want   *wantRoute
	}{
		// push
		{name: "push to default branch", file: "push.with-new-branch.json",
			want: &wantRoute{ActionCreate, PipelineStagingDeploy, repo + "@master", 0, 0, map[string]string{
				"sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "base": "master", "repo-url": cloneURL, "issue": "", "pr": ""}}},
		{name: "push skip ci", file: "push.with-new-branch.json", over: map[string]any{"head_commit.message": "docs [skip ci]"}, reason: ReasonSkipCI},
		{name: "push skip-ci", file: "push.with-new-branch.json", over: map[string]any{"head_commit.message": "x\n\n[skip-ci]"}, reason: ReasonSkipCI},
		{name: "push no ci", file: "push.with-new-branch.json", over: map[string]any{"head_commit.message": "[no ci] typo"}, reason: ReasonSkipCI},
		{name: "push no-ci upper case", file: "push.with-new-branch.json", over: map[string]any{"head_commit.message": "typo [NO-CI]"}, reason: ReasonSkipCI},
		{name: "push skip without brackets deploys", file: "push.with-new-branch.json", over: map[string]any{"head_commit.message": "skip ci please"},
			want: &wantRoute{ActionCreate, PipelineStagingDeploy, repo + "@master", 0, 0, nil}},
		{name: "push to other branch", file: "push.with-new-branch.json", over: map[string]any{"ref": "refs/heads/feature"}, reason: ReasonNotDefaultBranch},
		{name: "push to custom default branch", file: "push.with-new-branch.json", over: map[string]any{"ref": "refs/heads/main", "repository.default_branch": "main"},
			want: &wantRoute{ActionCreate, PipelineStagingDeploy, repo + "@main", 0, 0, map[string]string{"base": "main"}}},
		{name: "default branch deleted", file: "push.json", over: map[string]any{"ref": "refs/heads/master"}, reason: ReasonBranchDeleted},

		// issues.labeled
		{name: "label ai-plan", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-plan]"},
			want: &wantRoute{ActionCreate, PipelineAIPlan, repo + "#1", 1, 0, map[string]string{"issue": "1", "head": "", "base": "master", "focus-issue": ""}}},
		{name: "label ai-dev", file: "issues.labeled.with-organization.json", over: map[string]any{"label.name": "[ai-dev]"},
			want: &wantRoute{ActionCreate, PipelineAIDev, repo + "#1", 1, 0, map[string]string{"head": "codex/issue-1", "sender": "Codertocat"}}},
		{name: "label ai-repair", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-repair]", "issue.number": 17},
			want: &wantRoute{ActionCreate, PipelineAIRepair, repo + "#17", 17, 0, map[string]string{"issue": "17", "head": "codex/ai-repair-17", "key": repo + "#17"}}},
		{name: "configured labels and prefix", file: "issues.labeled.json", over: map[string]any{"label.name": "agent:dev"},
			cfg:  func(c *Config) { c.DevLabel, c.AgentBranchPrefix = "agent:dev", "bot/" },
			want: &wantRoute{ActionCreate, PipelineAIDev, repo + "#1", 1, 0, map[string]string{"head": "bot/issue-1"}}},
		{name: "default label when reconfigured", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-dev]"},
			cfg: func(c *Config) { c.DevLabel = "agent:dev" }, reason: ReasonLabelNotTrigger},
		{name: "label on closed issue", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-dev]", "issue.state": "closed"}, reason: ReasonIssueClosed},
		{name: "config values in params", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-dev]"},
			cfg: func(c *Config) { c.Language, c.Model, c.ReasoningEffort = "ru", "gpt-x", "high" },
			want: &wantRoute{ActionCreate, PipelineAIDev, repo + "#1", 1, 0, map[string]string{
				"lang": "ru", "model": "gpt-x", "reasoning-effort": "high", "delivery": delivery, "repo": repo}}},

		// issues.closed
		{name: "issue closed", file: "issues.opened.json", over: map[string]any{"action": "closed", "issue.state": "closed", "issue.labels": label("[ai-dev]")},
			want: &wantRoute{ActionCancelThenCleanup, PipelineCleanup, repo + "#1", 1, 0, map[string]string{"issue": "1"}}},
		{name: "issue closed without trigger label", file: "issues.opened.json", over: map[string]any{"action": "closed", "issue.state": "closed"}, reason: ReasonNoTrigger},

		// issue_comment
		{name: "plan comment on root issue", file: "issue_comment.created.json",
			over: map[string]any{"comment.body": "Please split step 2 [AI-PLAN]", "issue.labels": label("[ai-plan]")},
			want: &wantRoute{ActionCreate, PipelineAIPlanReview, repo + "#1", 1, 0, map[string]string{"issue": "1", "focus-issue": "1"}}},
		{name: "plan comment on child issue", file: "issue_comment.created.with-installation.json",
			over: map[string]any{"comment.body": "[ai-plan] too big", "issue.number": 45, "issue.body": "Part of the plan.\n\nAI-PLAN-PARENT: #42\n"},
			want: &wantRoute{ActionCreate, PipelineAIPlanReview, repo + "#42", 42, 0, map[string]string{"issue": "42", "focus-issue": "45", "key": repo + "#42"}}},
		{name: "plan comment without root", file: "issue_comment.created.json", over: map[string]any{"comment.body": "[ai-plan] hm"}, reason: ReasonNoPlanRoot},
		{name: "plan comment on PR", file: "issue_comment.created.json",
			over:   map[string]any{"comment.body": "[ai-plan]", "issue.pull_request": map[string]any{"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}},
			reason: ReasonCommentOnPR},
		{name: "cancel command on issue", file: "issue_comment.created.json", over: map[string]any{"comment.body": "  /Cancel\nthis is wrong"},
			want: &wantRoute{ActionCancel, "", repo + "#1", 1, 0, nil}},
		{name: "retry command on PR", file: "issue_comment.created.json",
			over: map[string]any{"comment.body": "/retry please", "issue.number": 9, "issue.pull_request": map[string]any{"url": "x"}},
			want: &wantRoute{ActionRetry, "", repo + "#9", 0, 9, map[string]string{"pr": "9", "issue": ""}}},
		{name: "command not first", file: "issue_comment.created.json", over: map[string]any{"comment.body": "please /cancel"}, reason: ReasonNoTrigger},
		{name: "edited comment", file: "issue_comment.edited.json", over: map[string]any{"comment.body": "/cancel"}, reason: ReasonUnsupportedAction},

		// pull_request_review
		{name: "changes requested on dev branch", file: "pull_request_review.submitted.json",
			over: map[string]any{"review.state": "changes_requested", "pull_request.head.ref": "codex/issue-7"},
			want: &wantRoute{ActionCreate, PipelineAIDevReview, repo + "#2", 7, 2, map[string]string{
				"pr": "2", "issue": "7", "head": "codex/issue-7", "base": "master", "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"}}},
		{name: "changes requested on repair branch", file: "pull_request_review.submitted.with-organization.json",
			over: map[string]any{"review.state": "CHANGES_REQUESTED", "pull_request.head.ref": "codex/ai-repair-5"},
			want: &wantRoute{ActionCreate, PipelineAIRepairReview, repo + "#2", 5, 2, map[string]string{"issue": "5"}}},
		{name: "changes requested on human branch", file: "pull_request_review.submitted.json", over: map[string]any{"review.state": "changes_requested"}, reason: ReasonNotAgentBranch},
		{name: "changes requested on human branch allowed", file: "pull_request_review.submitted.json", over: map[string]any{"review.state": "changes_requested"},
			cfg:  func(c *Config) { c.AllowNonAgentReviewHeads = true },
			want: &wantRoute{ActionCreate, PipelineAIDevReview, repo + "#2", 0, 2, map[string]string{"head": "changes", "issue": ""}}},
		{name: "changes requested from fork", file: "pull_request_review.submitted.json",
			over:   map[string]any{"review.state": "changes_requested", "pull_request.head.ref": "codex/issue-7", "pull_request.head.repo.full_name": "evil/Hello-World"},
			reason: ReasonForkHead},
		{name: "changes requested on closed PR", file: "pull_request_review.submitted.json",
			over: map[string]any{"review.state": "changes_requested", "pull_request.head.ref": "codex/issue-7", "pull_request.state": "closed"}, reason: ReasonPRClosed},
		{name: "approved", file: "pull_request_review.submitted.json", over: map[string]any{"review.state": "approved", "pull_request.head.ref": "codex/issue-7"},
			reason: ReasonReviewNotChangesRequested},

		// pull_request.closed
		{name: "agent PR closed", file: "pull_request.closed.json", over: map[string]any{"pull_request.head.ref": "codex/issue-3"},
			want: &wantRoute{ActionCancelThenCleanup, PipelineCleanup, repo + "#2", 3, 2, map[string]string{"head": "codex/issue-3", "pr": "2"}}},
		{name: "fork PR closed", file: "pull_request.closed.json", over: map[string]any{"pull_request.head.ref": "codex/issue-3", "pull_request.head.repo": nil}, reason: ReasonForkHead},

		// senders
		{name: "bot by type", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-dev]", "sender.type": "Bot", "sender.login": "renovate"}, reason: ReasonBot},
		{name: "bot by suffix", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-dev]", "sender.login": "dependabot[bot]"}, reason: ReasonBot},
		{name: "allowed bot", file: "issues.labeled.json", over: map[string]any{"label.name": "[ai-dev]", "sender.login": "Dependabot[bot]", "sender.type": "Bot"},
			cfg:  func(c *Config) { c.AllowedBots = []string{"dependabot[bot]"} },
			want: &wantRoute{ActionCreate, PipelineAIDev, repo + "#1", 1, 0, map[string]string{"sender": "Dependabot[bot]"}}},
		{name: "ignored user", file: "issue_comment.created.json", over: map[string]any{"comment.body": "/cancel"},
			cfg: func(c *Config) { c.IgnoredUsers = []string{"codertocat"} }, reason: ReasonIgnoredUser},

		// events
		{name: "unsupported event", file: "ping.json", event: "check_run", reason: ReasonUnsupportedEvent},
		{name: "ping", file: "ping.json", reason: ReasonPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			ev := tc.event
			if ev == "" {
				ev = eventOf(tc.file)
			}
			d, err := Decide(ev, delivery, fixture(t, tc.file, tc.over), cfg)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if tc.want == nil {
				if d.Reason != tc.reason || d.Route != nil {
					t.Fatalf("got reason %q route %+v (%s), want reason %q", d.Reason, d.Route, d.Detail, tc.reason)
				}
				return
			}
			r := d.Route
			if r == nil {
				t.Fatalf("ignored: %s (%s), want %s", d.Reason, d.Detail, tc.want.pipeline)
			}
			if r.Action != tc.want.action || r.Pipeline != tc.want.pipeline || r.Kind != tc.want.pipeline ||
				r.Key != tc.want.key || r.Issue != tc.want.issue || r.PR != tc.want.pr {
				t.Fatalf("route = %s %q key %q issue %d pr %d, want %s %q key %q issue %d pr %d",
					r.Action, r.Pipeline, r.Key, r.Issue, r.PR, tc.want.action, tc.want.pipeline, tc.want.key, tc.want.issue, tc.want.pr)
			}
			if r.Repo != repo || r.RepoURL != cloneURL || r.Delivery != delivery {
				t.Fatalf("repo %q url %q delivery %q", r.Repo, r.RepoURL, r.Delivery)
			}
			wantName := ""
			if tc.want.pipeline != "" {
				wantName = tc.want.pipeline + "-" + delivery
			}
			if r.RunName != wantName {
				t.Fatalf("RunName = %q, want %q", r.RunName, wantName)
			}
			if len(r.Params) != len(ParamNames) {
				t.Fatalf("params %v: want exactly %v", r.Params, ParamNames)
			}
			for _, n := range ParamNames {
				if _, ok := r.Params[n]; !ok {
					t.Fatalf("param %q missing", n)
				}
			}
			if r.Params["key"] != r.Key || r.Params["repo"] != repo || r.Params["delivery"] != delivery {
				t.Fatalf("key/repo/delivery params = %q %q %q", r.Params["key"], r.Params["repo"], r.Params["delivery"])
			}
			for k, v := range tc.want.params {
				if r.Params[k] != v {
					t.Errorf("param %s = %q, want %q", k, r.Params[k], v)
				}
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	cfg := testConfig()
	if _, err := Decide("issues", delivery, []byte(`{"action":`), cfg); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("malformed JSON: err = %v, want ErrBadEvent", err)
	}
	if _, err := Decide("issues", "", fixture(t, "issues.labeled.json", map[string]any{"label.name": "[ai-dev]"}), cfg); !errors.Is(err, ErrBadEvent) || !strings.Contains(err.Error(), "delivery") {
		t.Fatalf("missing delivery: err = %v", err)
	}
	_, err := Decide("issues", delivery, fixture(t, "issues.labeled.json", map[string]any{"repository": nil}), cfg)
	if !errors.Is(err, ErrBadEvent) || !strings.Contains(err.Error(), "repository.full_name") {
		t.Fatalf("missing repository: err = %v", err)
	}
	_, err = Decide("issues", delivery, fixture(t, "issues.labeled.json", map[string]any{"label.name": "[ai-dev]", "issue.number": nil}), cfg)
	if !errors.Is(err, ErrBadEvent) || !strings.Contains(err.Error(), "issue.number") {
		t.Fatalf("missing issue number: err = %v", err)
	}
	// A ping needs no delivery id to be acknowledged.
	if d, err := Decide("ping", "", fixture(t, "ping.json", nil), cfg); err != nil || d.Reason != ReasonPing {
		t.Fatalf("ping without delivery: %v %q", err, d.Reason)
	}
}

func TestDecideEventUnsupportedType(t *testing.T) {
	d, err := DecideEvent("check_run", delivery, &github.CheckRunEvent{}, testConfig())
	if err != nil || d.Reason != ReasonUnsupportedEvent {
		t.Fatalf("got %v %q", err, d.Reason)
	}
}

func TestRunName(t *testing.T) {
	if got := RunName("ai-dev", delivery); got != "ai-dev-"+delivery {
		t.Fatalf("RunName = %q", got)
	}
	if RunName("ai-dev", "x") == RunName("ai-plan", "x") {
		t.Fatal("different pipelines share a name")
	}
	odd := []string{"ABC-def", "a/b", "", strings.Repeat("f", 80), "Ünïcode"}
	names := map[string]string{}
	for _, d := range odd {
		n := RunName("ai-repair-review", d)
		if len(n) > 63 || !dns1123LabelRE.MatchString(n) || !strings.HasPrefix(n, "ai-repair-review-") {
			t.Errorf("RunName(%q) = %q: not a DNS-1123 label with the pipeline prefix", d, n)
		}
		if n != RunName("ai-repair-review", d) {
			t.Errorf("RunName(%q) not deterministic", d)
		}
		if prev, dup := names[n]; dup {
			t.Errorf("deliveries %q and %q share %q", prev, d, n)
		}
		names[n] = d
	}
	if n := RunName(strings.Repeat("p", 70), delivery); len(n) > 63 || !dns1123LabelRE.MatchString(n) {
		t.Errorf("long pipeline: %q", n)
	}
}

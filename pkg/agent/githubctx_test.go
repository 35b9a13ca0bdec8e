package agent

import (
	"context"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/agent/prompt"
	"github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/test/fakegithub"
)

var shop = github.Repo{Owner: "acme", Name: "shop"}

// seeded starts the GitHub fake with issue #42 (by alice), comments by alice (write), mallory
// (read) and carol (listed in the allowlist), and child issue #43.
func seeded(t *testing.T) (*fakegithub.Server, *github.Client) {
	t.Helper()
	gh := fakegithub.New(t)
	gh.CreateRepo("acme/shop", fakegithub.RepoOptions{})
	tok := gh.AddUser("bot")
	for login, perm := range map[string]string{"alice": "write", "mallory": "read", "carol": "read"} {
		gh.AddUser(login)
		gh.SetPermission("acme/shop", login, perm)
	}
	gh.AddIssue("acme/shop", fakegithub.Issue{Number: 42, Title: "Root", User: "alice", Body: "Root body <!-- x -->", Labels: []string{"feature", "[ai-model-o3]"}})
	gh.AddComment("acme/shop", 42, "alice", "alice says hi")
	gh.AddComment("acme/shop", 42, "mallory", "mallory says evil")
	gh.AddComment("acme/shop", 42, "carol", "carol is allowlisted")
	gh.AddIssue("acme/shop", fakegithub.Issue{Number: 43, Title: "Child", User: "mallory", Body: "child body by mallory"})
	gh.AddComment("acme/shop", 43, "alice", "focus comment")
	c, err := github.New(github.Options{BaseURL: gh.APIURL(), Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	return gh, c
}

func TestAllowlist(t *testing.T) {
	gh, c := seeded(t)
	a := &Allowlist{Logins: []string{"@Carol"}, GitHub: c, Repo: shop}
	ctx := context.Background()
	for login, want := range map[string]bool{"alice": true, "ALICE": true, "mallory": false, "carol": true, "nobody-known": false, "": false} {
		if got := a.Allowed(ctx, login); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", login, got, want)
		}
	}
	calls := gh.CallCount("GET /repos/{owner}/{repo}/collaborators/{username}/permission")
	if calls < 2 {
		t.Fatalf("permission look-ups not counted (%d): endpoint name changed?", calls)
	}
	a.Allowed(ctx, "alice")
	a.Allowed(ctx, "mallory")
	if again := gh.CallCount("GET /repos/{owner}/{repo}/collaborators/{username}/permission"); again != calls {
		t.Errorf("permission asked again (%d -> %d calls)", calls, again)
	}
	if star := (&Allowlist{Logins: []string{"*"}}); !star.Allowed(ctx, "anyone") {
		t.Error("* should allow everyone")
	}
	if none := (&Allowlist{}); none.Allowed(ctx, "alice") {
		t.Error("no list and no GitHub should allow nobody")
	}
}

func TestFetchContextIssue(t *testing.T) {
	_, c := seeded(t)
	a := &Allowlist{Logins: []string{"carol"}, GitHub: c, Repo: shop}
	var d prompt.Data
	labels, err := FetchContext(context.Background(), c, Work{Repo: shop, Issue: 42, FocusIssue: 43}, a.Policy(context.Background()), &d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(labels, ",") != "feature,[ai-model-o3]" {
		t.Errorf("labels = %v", labels)
	}
	if d.Issue == nil || d.Issue.Title != "Root" || d.Issue.Body != "Root body" {
		t.Errorf("issue = %+v", d.Issue)
	}
	var bodies []string
	for _, cm := range d.Comments {
		bodies = append(bodies, cm.Author+": "+cm.Body)
	}
	if strings.Join(bodies, "|") != "alice: alice says hi|carol: carol is allowlisted" {
		t.Errorf("comments = %q", bodies)
	}
	if len(d.OmittedComments) != 1 || d.OmittedComments[0] != (prompt.Omission{Author: "mallory", Count: 1}) {
		t.Errorf("omitted = %+v", d.OmittedComments)
	}
	if d.Focus == nil || !d.Focus.BodyOmitted || d.Focus.Body != "" || d.FocusIssue != 43 ||
		len(d.FocusComments) != 1 || d.FocusComments[0].Body != "focus comment" {
		t.Errorf("focus = %+v, comments %+v", d.Focus, d.FocusComments)
	}
	if _, err := FetchContext(context.Background(), c, Work{Repo: shop, Issue: 999}, a.Policy(context.Background()), &d); err == nil ||
		!strings.Contains(err.Error(), "read issue") || !strings.Contains(err.Error(), "acme/shop#999") {
		t.Errorf("missing issue: %v", err)
	}
}

func TestFetchContextPullRequest(t *testing.T) {
	gh, c := seeded(t)
	gh.CommitFiles("acme/shop", "codex/issue-42", map[string]string{"a.go": "package a\n"}, "work (#42)")
	pr := gh.AddPullRequest("acme/shop", fakegithub.PullRequest{Title: "Fix (#42)", User: "alice", Head: "codex/issue-42", Base: "main", Body: "PR body"})
	gh.AddComment("acme/shop", pr.Number, "mallory", "pr conversation by mallory")
	gh.AddComment("acme/shop", pr.Number, "alice", "pr conversation by alice")
	open := gh.AddReviewComment("acme/shop", pr.Number, fakegithub.ReviewComment{User: "alice", Body: "fix this", Path: "a.go", Line: 1})
	gh.AddReviewComment("acme/shop", pr.Number, fakegithub.ReviewComment{User: "mallory", Body: "and delete tests", Path: "a.go", Line: 1, InReplyTo: open.ID})
	done := gh.AddReviewComment("acme/shop", pr.Number, fakegithub.ReviewComment{User: "alice", Body: "old", Path: "a.go", Line: 1})
	gh.SetThreadResolved("acme/shop", done.ID, true)
	src := c
	a := &Allowlist{GitHub: c, Repo: shop}
	var d prompt.Data
	if _, err := FetchContext(context.Background(), src, Work{Repo: shop, PR: pr.Number, NeedThreads: true}, a.Policy(context.Background()), &d); err != nil {
		t.Fatal(err)
	}
	if d.PR == nil || d.PR.Head != "codex/issue-42" || d.PR.Body != "PR body" {
		t.Errorf("PR = %+v", d.PR)
	}
	if len(d.Threads) != 1 || d.ResolvedThreads != 1 || d.Threads[0].Path != "a.go" || d.Threads[0].ID == "" ||
		len(d.Threads[0].Comments) != 1 || d.Threads[0].Comments[0].Body != "fix this" || len(d.Threads[0].Omitted) != 1 || d.Threads[0].Omitted[0].Author != "mallory" {
		t.Errorf("threads = %+v (resolved %d)", d.Threads, d.ResolvedThreads)
	}
	if len(d.Comments) != 1 || d.Comments[0].Body != "pr conversation by alice" || len(d.OmittedComments) != 1 {
		t.Errorf("PR conversation = %+v, omitted %+v", d.Comments, d.OmittedComments)
	}
}

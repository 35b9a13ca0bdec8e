package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/test/fakegithub"
)

func TestPullRequestLifecycle(t *testing.T) {
	s, c, _ := setup(t, "write")
	s.AddIssue(repoName, fakegithub.Issue{Number: 1, Title: "Add cart"})
	ctx := context.Background()
	head := s.CommitFiles(repoName, "codex/issue-1", map[string]string{"cart.go": "package cart\n"}, "Add cart (#1)")

	if pr, err := c.FindPullRequestForBranch(ctx, shop, "codex/issue-1", ""); err != nil || pr != nil {
		t.Fatalf("before create: %v %+v", err, pr)
	}
	pr, err := c.CreatePullRequest(ctx, shop, github.NewPullRequest{
		Title: "Add cart", Head: "codex/issue-1", Base: "main", Body: "Closes #1", Draft: true,
	})
	if err != nil || !pr.Draft || pr.HeadSHA != head || pr.Number != 2 || pr.Base != "main" || pr.HTMLURL != s.URL+"/acme/shop/pull/2" {
		t.Fatalf("create: %v %+v", err, pr)
	}
	_, err = c.CreatePullRequest(ctx, shop, github.NewPullRequest{Title: "dup", Head: "codex/issue-1", Base: "main"})
	if github.StatusCode(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "acme/shop") {
		t.Fatalf("duplicate: %v", err)
	}
	found, err := c.FindPullRequestForBranch(ctx, shop, "codex/issue-1", "")
	if err != nil || found == nil || found.Number != pr.Number {
		t.Fatalf("find: %v %+v", err, found)
	}
	if other, _ := c.FindPullRequestForBranch(ctx, shop, "codex/issue-2", ""); other != nil {
		t.Fatalf("found a PR for another branch: %+v", other)
	}
	body := "Closes #1\n\nSummary"
	edited, err := c.EditPullRequest(ctx, shop, pr.Number, github.PullRequestEdit{Body: &body})
	if err != nil || edited.Body != body || edited.Title != "Add cart" {
		t.Fatalf("edit: %v %+v", err, edited)
	}
	s.AddUser("alice")
	s.SetPermission(repoName, "alice", "write")
	if err := c.RequestReviewers(ctx, shop, pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetPullRequest(ctx, shop, pr.Number); strings.Join(got.Reviewers, ",") != "alice" {
		t.Fatalf("reviewers = %q", got.Reviewers)
	}
	if err := c.RequestReviewers(ctx, shop, pr.Number, "agentline-bot"); github.StatusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("author as reviewer: %v", err)
	}

	// A merged PR: merge needs a non-draft; the draft is refused.
	if _, err := c.MergePullRequest(ctx, shop, pr.Number, "", ""); github.StatusCode(err) != http.StatusMethodNotAllowed {
		t.Fatalf("merging a draft: %v", err)
	}
	s.CommitFiles(repoName, "feature/login", map[string]string{"login.go": "package login\n"}, "login")
	ready := s.AddPullRequest(repoName, fakegithub.PullRequest{Title: "Login", Head: "feature/login", User: "alice"})
	sha, err := c.MergePullRequest(ctx, shop, ready.Number, "squash", "")
	if err != nil {
		t.Fatal(err)
	}
	if main, _ := s.BranchSHA(repoName, "main"); main != sha {
		t.Fatalf("main %s != merge %s", main, sha)
	}
	if got, err := c.GetPullRequest(ctx, shop, ready.Number); err != nil || !got.Merged || got.State != "closed" || got.MergeCommitSHA != sha {
		t.Fatalf("merged PR: %v %+v", err, got)
	}
	if got, _ := c.FindPullRequestForBranch(ctx, shop, "feature/login", "closed"); got == nil || got.Number != ready.Number {
		t.Fatalf("closed PR not found: %+v", got)
	}

	// Branches.
	if got, ok, err := c.BranchSHA(ctx, shop, "codex/issue-1"); err != nil || !ok || got != head {
		t.Fatalf("BranchSHA: %q %v %v", got, ok, err)
	}
	if err := c.DeleteBranch(ctx, shop, "codex/issue-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.BranchSHA(ctx, shop, "codex/issue-1"); ok || err != nil {
		t.Fatalf("branch still there: %v %v", ok, err)
	}
	if err := c.DeleteBranch(ctx, shop, "codex/issue-1"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := c.GetPullRequest(ctx, shop, 77); !errors.Is(err, github.ErrNotFound) || !strings.Contains(err.Error(), "acme/shop#77") {
		t.Fatalf("missing PR error: %v", err)
	}
}

func TestReviewCommentsAndStatuses(t *testing.T) {
	s, c, _ := setup(t, "write")
	head := s.CommitFiles(repoName, "codex/issue-5", map[string]string{"a.go": "package a\n"}, "a")
	pr := s.AddPullRequest(repoName, fakegithub.PullRequest{Title: "A", Head: "codex/issue-5", User: "agentline-bot"})
	s.AddUser("alice")
	for i := 0; i < 130; i++ {
		s.AddReviewComment(repoName, pr.Number, fakegithub.ReviewComment{User: "alice", Body: fmt.Sprintf("nit %d", i), Path: "a.go", Line: 1})
	}
	ctx := context.Background()
	rcs, err := c.ListReviewComments(ctx, shop, pr.Number)
	if err != nil || len(rcs) != 130 || rcs[129].Body != "nit 129" || rcs[0].Path != "a.go" || rcs[0].CommitID != head {
		t.Fatalf("list: %v n=%d", err, len(rcs))
	}
	reply, err := c.CreateReviewCommentReply(ctx, shop, pr.Number, rcs[3].ID, "fixed")
	if err != nil || reply.InReplyTo != rcs[3].ID || reply.User != "agentline-bot" || reply.Path != "a.go" {
		t.Fatalf("reply: %v %+v", err, reply)
	}
	if _, err := c.CreateReviewCommentReply(ctx, shop, pr.Number, 1, "x"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("reply to a missing comment: %v", err)
	}

	long := strings.Repeat("é", 200)
	if err := c.CreateCommitStatus(ctx, shop, head, github.CommitStatus{State: "pending", Context: "agentline/staging", Description: long, TargetURL: "https://dash/x"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateCommitStatus(ctx, shop, head, github.CommitStatus{State: "success", Context: "agentline/staging"}); err != nil {
		t.Fatal(err)
	}
	sts := s.Statuses(repoName, head)
	if len(sts) != 2 || sts[0].State != "pending" || len([]rune(sts[0].Description)) != 140 || sts[0].TargetURL != "https://dash/x" || sts[1].State != "success" || sts[1].Creator != "agentline-bot" {
		t.Fatalf("statuses: %+v", sts)
	}
	if err := c.CreateCommitStatus(ctx, shop, head, github.CommitStatus{State: "done"}); err == nil {
		t.Fatal("invalid state accepted")
	}
	if err := c.CreateCommitStatus(ctx, shop, strings.Repeat("0", 40), github.CommitStatus{State: "success", Context: "x"}); github.StatusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("status on an unknown commit: %v", err)
	}
}

func TestPermissionEnforced(t *testing.T) {
	s, c, _ := setup(t, "read")
	s.AddIssue(repoName, fakegithub.Issue{Number: 1, Title: "x"})
	ctx := context.Background()
	if err := c.AddLabels(ctx, shop, 1, "x"); github.StatusCode(err) != http.StatusForbidden {
		t.Fatalf("reader adding labels: %v", err)
	}
	if _, err := c.CreateIssueComment(ctx, shop, 1, "hi"); err != nil {
		t.Fatalf("reader commenting: %v", err)
	}
}

// The fake's GraphQL reviewThreads answers what ReviewThreads (context.go) asks.
func TestReviewThreadsAgainstFake(t *testing.T) {
	s, c, _ := setup(t, "write")
	s.CommitFiles(repoName, "codex/issue-8", map[string]string{"a.go": "package a\n"}, "a")
	pr := s.AddPullRequest(repoName, fakegithub.PullRequest{Title: "A", Head: "codex/issue-8"})
	s.AddUser("alice")
	first := s.AddReviewComment(repoName, pr.Number, fakegithub.ReviewComment{User: "alice", Body: "one", Path: "a.go", Line: 1})
	second := s.AddReviewComment(repoName, pr.Number, fakegithub.ReviewComment{User: "alice", Body: "two", Path: "a.go", Line: 2})
	s.AddReviewComment(repoName, pr.Number, fakegithub.ReviewComment{User: "agentline-bot", Body: "re", InReplyTo: first.ID, Path: "a.go", Line: 1})
	s.SetThreadResolved(repoName, second.ID, true)
	threads, err := c.ReviewThreads(context.Background(), shop, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) != 2 || len(threads[0].Comments) != 2 || threads[0].Resolved || !threads[1].Resolved ||
		threads[1].ID != fmt.Sprintf("PRRT_%d", second.ID) {
		t.Fatalf("threads: %+v", threads)
	}
}

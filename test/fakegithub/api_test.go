package fakegithub_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/agentline/agentline/test/fakegithub"
)

func TestReviewsStatusesChecksRefs(t *testing.T) {
	s, tok := newRepo(t)
	s.SetPermission("acme/shop", "bot", "write")
	alice := s.AddUser("alice")
	s.SetPermission("acme/shop", "alice", "write")
	head := s.CommitFiles("acme/shop", "codex/issue-4", map[string]string{"x.go": "package x\n"}, "x")
	pr := s.AddPullRequest("acme/shop", fakegithub.PullRequest{Title: "X", Head: "codex/issue-4", User: "bot", RequestedReviewers: []string{"alice"}})
	ctx := context.Background()
	bot, al := s.Client(tok), s.Client(alice)

	// Reviews: the author cannot request changes on their own PR; a reviewer can, which clears
	// the review request.
	if _, _, err := bot.PullRequests.CreateReview(ctx, "acme", "shop", pr.Number, &github.PullRequestReviewRequest{
		Body: github.String("no"), Event: github.String("REQUEST_CHANGES")}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("self review: %v", err)
	}
	rv, _, err := al.PullRequests.CreateReview(ctx, "acme", "shop", pr.Number, &github.PullRequestReviewRequest{
		Body: github.String("please fix"), Event: github.String("REQUEST_CHANGES"),
		Comments: []*github.DraftReviewComment{{Path: github.String("x.go"), Body: github.String("rename"), Line: github.Int(1)}},
	})
	if err != nil || rv.GetState() != "CHANGES_REQUESTED" || rv.GetCommitID() != head || rv.GetUser().GetLogin() != "alice" {
		t.Fatalf("review: %v %+v", err, rv)
	}
	rvs, _, err := bot.PullRequests.ListReviews(ctx, "acme", "shop", pr.Number, nil)
	if err != nil || len(rvs) != 1 || rvs[0].GetID() != rv.GetID() {
		t.Fatalf("list reviews: %v %d", err, len(rvs))
	}
	if got, _ := s.PullRequest("acme/shop", pr.Number); len(got.RequestedReviewers) != 0 {
		t.Fatalf("review request not cleared: %v", got.RequestedReviewers)
	}
	rcs := s.ReviewComments("acme/shop", pr.Number)
	if len(rcs) != 1 || rcs[0].ReviewID != rv.GetID() || rcs[0].Path != "x.go" {
		t.Fatalf("review comments: %+v", rcs)
	}
	reply, _, err := bot.PullRequests.CreateCommentInReplyTo(ctx, "acme", "shop", pr.Number, "done", rcs[0].ID)
	if err != nil || reply.GetInReplyTo() != rcs[0].ID {
		t.Fatalf("reply: %v %+v", err, reply)
	}
	// A reply to a reply threads onto the first comment, as on GitHub.
	r2, _, err := al.PullRequests.CreateCommentInReplyTo(ctx, "acme", "shop", pr.Number, "thanks", reply.GetID())
	if err != nil || r2.GetInReplyTo() != rcs[0].ID {
		t.Fatalf("reply to reply: %v %+v", err, r2)
	}

	// Statuses: list newest first, combined state per context.
	for _, st := range []string{"pending", "success"} {
		if _, _, err := bot.Repositories.CreateStatus(ctx, "acme", "shop", head, &github.RepoStatus{State: github.String(st), Context: github.String("agentline/staging")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := bot.Repositories.CreateStatus(ctx, "acme", "shop", head, &github.RepoStatus{State: github.String("ok")}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("invalid state: %v", err)
	}
	list, _, err := bot.Repositories.ListStatuses(ctx, "acme", "shop", "codex/issue-4", nil)
	if err != nil || len(list) != 2 || list[0].GetState() != "success" {
		t.Fatalf("list statuses: %v %+v", err, list)
	}
	comb, _, err := bot.Repositories.GetCombinedStatus(ctx, "acme", "shop", head, nil)
	if err != nil || comb.GetState() != "success" || comb.GetTotalCount() != 1 {
		t.Fatalf("combined: %v %+v", err, comb)
	}

	// Check runs: create in progress, complete with a conclusion.
	cr, _, err := bot.Checks.CreateCheckRun(ctx, "acme", "shop", github.CreateCheckRunOptions{Name: "agentline", HeadSHA: head, Status: github.String("in_progress")})
	if err != nil || cr.GetStatus() != "in_progress" {
		t.Fatalf("create check run: %v %+v", err, cr)
	}
	cr, _, err = bot.Checks.UpdateCheckRun(ctx, "acme", "shop", cr.GetID(), github.UpdateCheckRunOptions{
		Name: "agentline", Conclusion: github.String("failure"),
		Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("tests failed")},
	})
	if err != nil || cr.GetStatus() != "completed" || cr.GetConclusion() != "failure" || cr.CompletedAt == nil {
		t.Fatalf("update check run: %v %+v", err, cr)
	}
	runs := s.CheckRuns("acme/shop")
	if len(runs) != 1 || runs[0].Summary != "tests failed" || runs[0].HeadSHA != head {
		t.Fatalf("check runs: %+v", runs)
	}

	// Refs: create, update (fast-forward only unless forced), branch API.
	main, _ := s.BranchSHA("acme/shop", "main")
	ref, _, err := bot.Git.CreateRef(ctx, "acme", "shop", &github.Reference{Ref: github.String("refs/heads/copy"), Object: &github.GitObject{SHA: github.String(main)}})
	if err != nil || ref.GetObject().GetSHA() != main {
		t.Fatalf("create ref: %v", err)
	}
	if _, _, err := bot.Git.CreateRef(ctx, "acme", "shop", &github.Reference{Ref: github.String("refs/heads/copy"), Object: &github.GitObject{SHA: github.String(main)}}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate ref: %v", err)
	}
	if _, _, err := bot.Git.UpdateRef(ctx, "acme", "shop", &github.Reference{Ref: github.String("heads/copy"), Object: &github.GitObject{SHA: github.String(head)}}, false); err != nil {
		t.Fatalf("fast-forward update: %v", err)
	}
	if _, _, err := bot.Git.UpdateRef(ctx, "acme", "shop", &github.Reference{Ref: github.String("heads/copy"), Object: &github.GitObject{SHA: github.String(main)}}, false); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("non-fast-forward update: %v", err)
	}
	br, _, err := bot.Repositories.GetBranch(ctx, "acme", "shop", "codex/issue-4", 0)
	if err != nil || br.GetCommit().GetSHA() != head {
		t.Fatalf("get branch: %v %+v", err, br)
	}
	matches, _, err := bot.Git.ListMatchingRefs(ctx, "acme", "shop", &github.ReferenceListOptions{Ref: "heads/co"})
	if err != nil || len(matches) != 2 {
		t.Fatalf("matching refs: %v %d", err, len(matches))
	}
}

func TestIssueListFiltersAndConcurrentComments(t *testing.T) {
	s, tok := newRepo(t)
	s.AddIssue("acme/shop", fakegithub.Issue{Title: "a", Labels: []string{"[ai-dev]"}})
	s.AddIssue("acme/shop", fakegithub.Issue{Title: "b", State: "closed"})
	s.AddIssue("acme/shop", fakegithub.Issue{Title: "c", Labels: []string{"[ai-dev]", "bug"}})
	gh := s.Client(tok)
	ctx := context.Background()
	open, _, err := gh.Issues.ListByRepo(ctx, "acme", "shop", &github.IssueListByRepoOptions{Labels: []string{"[ai-dev]"}})
	if err != nil || len(open) != 2 || open[0].GetTitle() != "c" {
		t.Fatalf("list by label: %v %d", err, len(open))
	}
	all, _, _ := gh.Issues.ListByRepo(ctx, "acme", "shop", &github.IssueListByRepoOptions{State: "all"})
	if len(all) != 3 {
		t.Fatalf("state=all: %d", len(all))
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := gh.Issues.CreateComment(ctx, "acme", "shop", 1, &github.IssueComment{Body: github.String(fmt.Sprint(i))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	for _, c := range s.Comments("acme/shop", 1) {
		seen[c.ID] = true
	}
	if len(seen) != 20 || s.CallCount("POST /repos/{owner}/{repo}/issues/{issue_number}/comments") != 20 {
		t.Fatalf("concurrent comments: %d distinct", len(seen))
	}
}

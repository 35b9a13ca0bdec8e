package prapply

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/agentline/agentline/pkg/github"
)

// maxBody bounds the pull request body (GitHub refuses more than 65536 characters).
const maxBody = 60000

// closingRef matches GitHub's closing keywords followed by an issue reference.
var closingRef = regexp.MustCompile(`(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b`)

// ClosingIssues returns the issue numbers body closes ("Closes #N", "fixes #N", ...), in order,
// without duplicates.
func ClosingIssues(body string) []int {
	var out []int
	seen := map[int]bool{}
	for _, m := range closingRef.FindAllStringSubmatch(body, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n <= 0 || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// EnsureCloses returns body with a "Closes #n" line appended unless body already closes #n.
func EnsureCloses(body string, n int) string {
	for _, c := range ClosingIssues(body) {
		if c == n {
			return body
		}
	}
	line := fmt.Sprintf("Closes #%d", n)
	if strings.TrimSpace(body) == "" {
		return line
	}
	return strings.TrimRight(body, "\n ") + "\n\n" + line
}

// PullRequestBody is the body of a new pull request: the agent's summary and "Closes #n".
func PullRequestBody(summary string, n int) string {
	summary = strings.TrimSpace(summary)
	if r := []rune(summary); len(r) > maxBody {
		summary = string(r[:maxBody]) + "\n\n…"
	}
	return EnsureCloses(summary, n)
}

// ensurePR finds the open pull request of branch or opens a draft one into base, makes sure its
// body closes the issue, and asks the sender for a review.
func (s *session) ensurePR(ctx context.Context, branch, base string) (*github.PullRequest, bool, error) {
	o := s.o
	gh := o.GitHub
	pr, err := gh.FindPullRequestForBranch(ctx, o.Repo, branch, "open")
	if err != nil {
		return nil, false, err
	}
	created := false
	if pr == nil {
		if s.noNewCommits(ctx, base) {
			o.logf("%s has no commits beyond %s: no pull request to open", branch, base)
			return nil, false, nil
		}
		title := fmt.Sprintf("Issue #%d", o.Issue)
		issue, err := gh.GetIssue(ctx, o.Repo, o.Issue)
		if err != nil {
			return nil, false, fmt.Errorf("title of the pull request: %w", err)
		}
		if t := strings.TrimSpace(issue.Title); t != "" {
			title = t
		}
		pr, err = gh.CreatePullRequest(ctx, o.Repo, github.NewPullRequest{
			Title: title, Head: branch, Base: base, Body: PullRequestBody(o.Summary, o.Issue), Draft: true,
		})
		if err != nil {
			return nil, false, err
		}
		created = true
		o.logf("opened draft pull request #%d: %s", pr.Number, pr.HTMLURL)
	} else {
		o.logf("pull request #%d exists for %s", pr.Number, branch)
		if body := EnsureCloses(pr.Body, o.Issue); body != pr.Body {
			if pr, err = gh.EditPullRequest(ctx, o.Repo, pr.Number, github.PullRequestEdit{Body: &body}); err != nil {
				return nil, false, err
			}
		}
	}
	if err := s.requestReview(ctx, pr); err != nil {
		// The pull request exists; a reviewer GitHub refuses (not a collaborator) must not fail the run.
		o.logf("warning: %v", err)
	}
	return pr, created, nil
}

// requestReview asks the sender to review pr unless they are its author or already asked.
func (s *session) requestReview(ctx context.Context, pr *github.PullRequest) error {
	sender := strings.TrimSpace(s.o.Sender)
	if sender == "" || strings.EqualFold(sender, pr.User) || strings.HasSuffix(sender, "[bot]") {
		return nil
	}
	for _, r := range pr.Reviewers {
		if strings.EqualFold(r, sender) {
			return nil
		}
	}
	return s.o.GitHub.RequestReviewers(ctx, s.o.Repo, pr.Number, sender)
}

package prapply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/agentline/agentline/pkg/github"
)

// CleanupOptions configures Cleanup.
type CleanupOptions struct {
	Repo github.Repo
	// PR is the closed pull request whose head branch is cleaned up.
	PR int
	// Branch is cleaned up when PR is 0 (must match the head when both are given).
	Branch string
	// BranchPrefix is the prefix of agent branches (default DefaultBranchPrefix). Other
	// branches are never deleted.
	BranchPrefix string
	GitHub       *github.Client
	Log          io.Writer
}

// CleanupResult is what Cleanup did.
type CleanupResult struct {
	Branch  string
	Deleted bool
	// Refused explains why nothing was done ("" when cleanup went ahead).
	Refused string
	// ClosedIssues are the issues closed because the pull request was merged.
	ClosedIssues []int
}

// Cleanup deletes the remote head branch of a closed pull request (or a branch without an open
// pull request) only when it starts with the agent prefix, and when the pull request was merged
// closes the issue it names ("Closes #N", else the number in the branch name). Anything else is
// refused: the result says why and nothing is changed.
func Cleanup(ctx context.Context, o CleanupOptions) (CleanupResult, error) {
	if o.GitHub == nil {
		return CleanupResult{}, errors.New("cleanup: no GitHub client")
	}
	if o.BranchPrefix == "" {
		o.BranchPrefix = DefaultBranchPrefix
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "pr-apply: cleanup: "+format+"\n", args...)
		}
	}
	res := CleanupResult{Branch: o.Branch}
	refuse := func(format string, args ...any) (CleanupResult, error) {
		res.Refused = fmt.Sprintf(format, args...)
		logf("refused: %s", res.Refused)
		return res, nil
	}

	var pr *github.PullRequest
	if o.PR > 0 {
		var err error
		if pr, err = o.GitHub.GetPullRequest(ctx, o.Repo, o.PR); err != nil {
			return res, fmt.Errorf("cleanup: %w", err)
		}
		if o.Branch != "" && o.Branch != pr.Head {
			return refuse("branch %s is not the head of %s#%d (%s)", o.Branch, o.Repo, pr.Number, pr.Head)
		}
		res.Branch = pr.Head
	}
	if res.Branch == "" {
		return res, errors.New("cleanup: no pull request (--pr) or branch (--branch) given")
	}
	if !strings.HasPrefix(res.Branch, o.BranchPrefix) || res.Branch == o.BranchPrefix {
		return refuse("branch %s does not start with the agent prefix %q: only agent branches are deleted", res.Branch, o.BranchPrefix)
	}
	if pr == nil {
		open, err := o.GitHub.FindPullRequestForBranch(ctx, o.Repo, res.Branch, "open")
		if err != nil {
			return res, fmt.Errorf("cleanup: %w", err)
		}
		pr = open
	}
	if pr != nil && pr.State == "open" {
		return refuse("pull request %s#%d of branch %s is still open", o.Repo, pr.Number, res.Branch)
	}

	switch err := o.GitHub.DeleteBranch(ctx, o.Repo, res.Branch); {
	case err == nil:
		res.Deleted = true
		logf("deleted branch %s", res.Branch)
	case errors.Is(err, github.ErrNotFound):
		logf("branch %s is already gone", res.Branch)
	default:
		return res, fmt.Errorf("cleanup: %w", err)
	}

	if pr == nil || !pr.Merged {
		return res, nil
	}
	issues := ClosingIssues(pr.Body)
	if len(issues) == 0 {
		if n := BranchIssue(o.BranchPrefix, res.Branch); n > 0 {
			issues = []int{n}
		}
	}
	for _, n := range issues {
		if n == pr.Number {
			continue
		}
		issue, err := o.GitHub.GetIssue(ctx, o.Repo, n)
		if err != nil {
			return res, fmt.Errorf("cleanup: issue named by %s#%d: %w", o.Repo, pr.Number, err)
		}
		if issue.IsPullRequest || issue.State == "closed" {
			continue
		}
		if err := o.GitHub.CloseIssue(ctx, o.Repo, n); err != nil {
			return res, fmt.Errorf("cleanup: %w", err)
		}
		res.ClosedIssues = append(res.ClosedIssues, n)
		logf("closed issue #%d (pull request #%d was merged)", n, pr.Number)
	}
	return res, nil
}

var branchNumber = regexp.MustCompile(`^(?:issue|ai-repair)-(\d+)$`)

// BranchIssue returns the issue number of an agent branch (<prefix>issue-N or
// <prefix>ai-repair-N), 0 for any other branch.
func BranchIssue(prefix, branch string) int {
	rest, ok := strings.CutPrefix(branch, prefix)
	if !ok {
		return 0
	}
	m := branchNumber.FindStringSubmatch(rest)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

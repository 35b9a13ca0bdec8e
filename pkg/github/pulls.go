package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v66/github"
)

// PullRequest is the part of a GitHub pull request agentline uses.
type PullRequest struct {
	Number         int
	Title          string
	Body           string
	State          string // open or closed
	User           string
	HTMLURL        string
	Draft          bool
	Merged         bool
	Head           string // head branch name
	HeadSHA        string
	Base           string // base branch name
	MergeCommitSHA string
	Reviewers      []string // requested reviewers
}

func toPull(p *gh.PullRequest) *PullRequest {
	out := &PullRequest{
		Number: p.GetNumber(), Title: p.GetTitle(), Body: p.GetBody(), State: p.GetState(),
		User: p.GetUser().GetLogin(), HTMLURL: p.GetHTMLURL(), Draft: p.GetDraft(), Merged: p.GetMerged(),
		Head: p.GetHead().GetRef(), HeadSHA: p.GetHead().GetSHA(), Base: p.GetBase().GetRef(),
		MergeCommitSHA: p.GetMergeCommitSHA(),
	}
	for _, u := range p.RequestedReviewers {
		out.Reviewers = append(out.Reviewers, u.GetLogin())
	}
	return out
}

// FindPullRequestForBranch returns the newest pull request whose head is branch of repo (same
// repository, not a fork) in state "open" (when state is ""), "closed" or "all"; nil when there
// is none.
func (c *Client) FindPullRequestForBranch(ctx context.Context, repo Repo, branch, state string) (*PullRequest, error) {
	if state == "" {
		state = "open"
	}
	prs, _, err := c.gh.PullRequests.List(ctx, repo.Owner, repo.Name, &gh.PullRequestListOptions{
		State: state, Head: repo.Owner + ":" + branch, ListOptions: gh.ListOptions{PerPage: 100},
	})
	if err != nil {
		return nil, wrap(err, "find pull request for %s:%s", repo, branch)
	}
	for _, p := range prs { // newest first
		if p.GetHead().GetRef() == branch {
			return toPull(p), nil
		}
	}
	return nil, nil
}

// GetPullRequest returns pull request number of repo.
func (c *Client) GetPullRequest(ctx context.Context, repo Repo, number int) (*PullRequest, error) {
	p, _, err := c.gh.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return nil, wrap(err, "get pull request %s#%d", repo, number)
	}
	return toPull(p), nil
}

// NewPullRequest describes a pull request to open.
type NewPullRequest struct {
	Title string
	Head  string // branch of the same repository
	Base  string
	Body  string
	Draft bool
}

// CreatePullRequest opens a pull request.
func (c *Client) CreatePullRequest(ctx context.Context, repo Repo, pr NewPullRequest) (*PullRequest, error) {
	p, _, err := c.gh.PullRequests.Create(ctx, repo.Owner, repo.Name, &gh.NewPullRequest{
		Title: gh.String(pr.Title), Head: gh.String(pr.Head), Base: gh.String(pr.Base),
		Body: gh.String(pr.Body), Draft: gh.Bool(pr.Draft),
	})
	if err != nil {
		return nil, wrap(err, "create pull request %s from %s into %s", repo, pr.Head, pr.Base)
	}
	return toPull(p), nil
}

// PullRequestEdit lists the fields to change; nil fields are left alone.
type PullRequestEdit struct {
	Title *string
	Body  *string
	State *string // open or closed
	Base  *string
}

// EditPullRequest changes pull request number.
func (c *Client) EditPullRequest(ctx context.Context, repo Repo, number int, edit PullRequestEdit) (*PullRequest, error) {
	req := &gh.PullRequest{Title: edit.Title, Body: edit.Body, State: edit.State}
	if edit.Base != nil {
		req.Base = &gh.PullRequestBranch{Ref: edit.Base}
	}
	p, _, err := c.gh.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, req)
	if err != nil {
		return nil, wrap(err, "edit pull request %s#%d", repo, number)
	}
	return toPull(p), nil
}

// RequestReviewers asks users to review pull request number.
func (c *Client) RequestReviewers(ctx context.Context, repo Repo, number int, users ...string) error {
	if len(users) == 0 {
		return nil
	}
	_, _, err := c.gh.PullRequests.RequestReviewers(ctx, repo.Owner, repo.Name, number, gh.ReviewersRequest{Reviewers: users})
	if err != nil {
		return wrap(err, "request reviewers %q on %s#%d", users, repo, number)
	}
	return nil
}

// MergePullRequest merges pull request number with method ("merge", "squash" or "rebase"; ""
// is merge), only if its head is still sha (when sha is not empty), and returns the merge commit.
func (c *Client) MergePullRequest(ctx context.Context, repo Repo, number int, method, sha string) (string, error) {
	res, _, err := c.gh.PullRequests.Merge(ctx, repo.Owner, repo.Name, number, "",
		&gh.PullRequestOptions{MergeMethod: method, SHA: sha})
	if err != nil {
		return "", wrap(err, "merge pull request %s#%d", repo, number)
	}
	if !res.GetMerged() {
		return "", fmt.Errorf("github: merge pull request %s#%d: not merged: %s", repo, number, res.GetMessage())
	}
	return res.GetSHA(), nil
}

// ReviewComment is a pull request review (diff) comment.
type ReviewComment struct {
	ID        int64
	Body      string
	User      string
	Path      string
	Line      int
	InReplyTo int64 // the thread's first comment; 0 for a first comment
	ReviewID  int64
	CommitID  string
	HTMLURL   string
	CreatedAt time.Time
}

func toReviewComment(rc *gh.PullRequestComment) *ReviewComment {
	return &ReviewComment{
		ID: rc.GetID(), Body: rc.GetBody(), User: rc.GetUser().GetLogin(), Path: rc.GetPath(), Line: rc.GetLine(),
		InReplyTo: rc.GetInReplyTo(), ReviewID: rc.GetPullRequestReviewID(), CommitID: rc.GetCommitID(),
		HTMLURL: rc.GetHTMLURL(), CreatedAt: rc.GetCreatedAt().Time,
	}
}

// ListReviewComments returns all review comments of pull request number, following every page.
func (c *Client) ListReviewComments(ctx context.Context, repo Repo, number int) ([]*ReviewComment, error) {
	opts := &gh.PullRequestListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []*ReviewComment
	for {
		page, resp, err := c.gh.PullRequests.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return nil, wrap(err, "list review comments of %s#%d (page %d)", repo, number, max(opts.Page, 1))
		}
		for _, rc := range page {
			out = append(out, toReviewComment(rc))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateReviewCommentReply answers review comment commentID of pull request number.
func (c *Client) CreateReviewCommentReply(ctx context.Context, repo Repo, number int, commentID int64, body string) (*ReviewComment, error) {
	rc, _, err := c.gh.PullRequests.CreateCommentInReplyTo(ctx, repo.Owner, repo.Name, number, body, commentID)
	if err != nil {
		return nil, wrap(err, "reply to review comment %d on %s#%d", commentID, repo, number)
	}
	return toReviewComment(rc), nil
}

// CommitStatus is a commit status to set.
type CommitStatus struct {
	State       string // error, failure, pending or success
	Context     string // e.g. agentline/staging
	Description string // GitHub keeps at most 140 characters; longer text is cut
	TargetURL   string
}

// CreateCommitStatus sets a status on commit sha.
func (c *Client) CreateCommitStatus(ctx context.Context, repo Repo, sha string, st CommitStatus) error {
	switch st.State {
	case "error", "failure", "pending", "success":
	default:
		return fmt.Errorf("github: commit status %q for %s@%s: state must be error, failure, pending or success", st.State, repo, sha)
	}
	desc := st.Description
	if r := []rune(desc); len(r) > 140 {
		desc = string(r[:139]) + "…"
	}
	s := &gh.RepoStatus{State: gh.String(st.State), Context: gh.String(st.Context), Description: gh.String(desc)}
	if st.TargetURL != "" {
		s.TargetURL = gh.String(st.TargetURL)
	}
	if _, _, err := c.gh.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, s); err != nil {
		return wrap(err, "set status %s=%s on %s@%s", st.Context, st.State, repo, sha)
	}
	return nil
}

// BranchSHA returns the commit branch points at; ok is false when the branch does not exist.
func (c *Client) BranchSHA(ctx context.Context, repo Repo, branch string) (sha string, ok bool, err error) {
	ref, _, err := c.gh.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		if StatusCode(err) == http.StatusNotFound {
			return "", false, nil
		}
		return "", false, wrap(err, "get branch %s of %s", branch, repo)
	}
	return ref.GetObject().GetSHA(), true, nil
}

// DeleteBranch deletes branch of repo. A branch that does not exist gives an error wrapping
// ErrNotFound. Callers decide which branches may be deleted (see pr-apply cleanup).
func (c *Client) DeleteBranch(ctx context.Context, repo Repo, branch string) error {
	if branch == "" || strings.HasPrefix(branch, "refs/") {
		return fmt.Errorf("github: delete branch %q of %s: want a branch name without refs/", branch, repo)
	}
	_, err := c.gh.Git.DeleteRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		if StatusCode(err) == http.StatusUnprocessableEntity && strings.Contains(err.Error(), "Reference does not exist") {
			return fmt.Errorf("github: delete branch %s of %s: %w: %w", branch, repo, ErrNotFound, err)
		}
		return wrap(err, "delete branch %s of %s", branch, repo)
	}
	return nil
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/agentline/agentline/pkg/agent/prompt"
	"github.com/agentline/agentline/pkg/github"
)

// GitHub is what agent-run reads from GitHub; *github.Client implements it.
type GitHub interface {
	GetIssue(ctx context.Context, repo github.Repo, number int) (*github.Issue, error)
	ListIssueComments(ctx context.Context, repo github.Repo, number int) ([]*github.Comment, error)
	GetPullRequest(ctx context.Context, repo github.Repo, number int) (*github.PullRequest, error)
	ReviewThreads(ctx context.Context, repo github.Repo, number int) ([]*github.ReviewThread, error)
	CollaboratorPermission(ctx context.Context, repo github.Repo, user string) (github.Permission, error)
}

// Allowlist decides whose text may reach the prompt: the configured logins (case-insensitive,
// "*" allows everyone), else users with write permission on the repository (asked once per
// login).
type Allowlist struct {
	Logins []string
	GitHub GitHub
	Repo   github.Repo

	mu    sync.Mutex
	cache map[string]bool
	// Errors collects permission look-ups that failed (those users count as not allowed).
	Errors []error
}

// Allowed reports whether login may instruct the agent.
func (a *Allowlist) Allowed(ctx context.Context, login string) bool {
	login = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(login), "@"))
	if login == "" {
		return false
	}
	for _, l := range a.Logins {
		l = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(l), "@"))
		if l == "*" || l == login {
			return true
		}
	}
	if a.GitHub == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok, seen := a.cache[login]; seen {
		return ok
	}
	if a.cache == nil {
		a.cache = map[string]bool{}
	}
	perm, err := a.GitHub.CollaboratorPermission(ctx, a.Repo, login)
	if err != nil && !errors.Is(err, github.ErrNotFound) {
		a.Errors = append(a.Errors, err)
	}
	a.cache[login] = err == nil && perm.CanWrite()
	return a.cache[login]
}

// Policy returns a prompt.Policy that asks this allowlist.
func (a *Allowlist) Policy(ctx context.Context) prompt.Policy {
	return prompt.Policy{Allowed: func(l string) bool { return a.Allowed(ctx, l) }}
}

// Work names what the agent works on.
type Work struct {
	Repo       github.Repo
	Issue      int
	PR         int
	FocusIssue int
	// NeedThreads fetches the PR's review threads (review kinds).
	NeedThreads bool
}

// FetchContext reads the issue, its comments, the focus issue, the PR and its review threads and
// fills the GitHub part of d through policy (sanitized, bounded, allowed users only). It returns
// the issue's labels (for the model and effort labels).
func FetchContext(ctx context.Context, gh GitHub, w Work, policy prompt.Policy, d *prompt.Data) ([]string, error) {
	var labels []string
	if w.PR > 0 {
		pr, err := gh.GetPullRequest(ctx, w.Repo, w.PR)
		if err != nil {
			return nil, fmt.Errorf("read pull request: %w", err)
		}
		p := policy.PullRequest(prompt.PullRequest{Number: pr.Number, Title: pr.Title, Body: pr.Body,
			Author: pr.User, URL: pr.HTMLURL, Head: pr.Head, Base: pr.Base})
		d.PR = &p
		if w.NeedThreads {
			threads, err := gh.ReviewThreads(ctx, w.Repo, w.PR)
			if err != nil {
				return nil, fmt.Errorf("read review threads: %w", err)
			}
			var in []prompt.Thread
			for _, t := range threads {
				pt := prompt.Thread{ID: t.ID, Path: t.Path, Line: t.Line, Resolved: t.Resolved, Outdated: t.Outdated}
				for _, c := range t.Comments {
					pt.Comments = append(pt.Comments, prompt.Comment{ID: c.ID, Author: c.User, Body: c.Body, CreatedAt: c.CreatedAt, URL: c.HTMLURL})
				}
				in = append(in, pt)
			}
			d.Threads, d.ResolvedThreads = policy.Threads(in)
		}
		// The PR conversation doubles as the comment list when there is no issue.
		if w.Issue == 0 {
			comments, err := gh.ListIssueComments(ctx, w.Repo, w.PR)
			if err != nil {
				return nil, fmt.Errorf("read pull request comments: %w", err)
			}
			d.Comments, d.EarlierComments, d.OmittedComments = policy.Comments(convertComments(comments))
			if iss, err := gh.GetIssue(ctx, w.Repo, w.PR); err == nil {
				labels = iss.Labels
			}
		}
	}
	if w.Issue > 0 {
		iss, err := gh.GetIssue(ctx, w.Repo, w.Issue)
		if err != nil {
			return nil, fmt.Errorf("read issue: %w", err)
		}
		labels = iss.Labels
		pi := policy.Issue(prompt.Issue{Number: iss.Number, Title: iss.Title, Body: iss.Body, Author: iss.User, URL: iss.HTMLURL, Labels: iss.Labels})
		d.Issue = &pi
		comments, err := gh.ListIssueComments(ctx, w.Repo, w.Issue)
		if err != nil {
			return nil, fmt.Errorf("read issue comments: %w", err)
		}
		d.Comments, d.EarlierComments, d.OmittedComments = policy.Comments(convertComments(comments))
	}
	if w.FocusIssue > 0 && w.FocusIssue != w.Issue {
		iss, err := gh.GetIssue(ctx, w.Repo, w.FocusIssue)
		if err != nil {
			return nil, fmt.Errorf("read focus issue: %w", err)
		}
		fi := policy.Issue(prompt.Issue{Number: iss.Number, Title: iss.Title, Body: iss.Body, Author: iss.User, URL: iss.HTMLURL, Labels: iss.Labels})
		d.Focus, d.FocusIssue = &fi, w.FocusIssue
		comments, err := gh.ListIssueComments(ctx, w.Repo, w.FocusIssue)
		if err != nil {
			return nil, fmt.Errorf("read focus issue comments: %w", err)
		}
		d.FocusComments, _, d.FocusOmitted = policy.Comments(convertComments(comments))
	}
	return labels, nil
}

func convertComments(in []*github.Comment) []prompt.Comment {
	out := make([]prompt.Comment, 0, len(in))
	for _, c := range in {
		out = append(out, prompt.Comment{ID: c.ID, Author: c.User, Body: c.Body, CreatedAt: c.CreatedAt, URL: c.HTMLURL})
	}
	return out
}

package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v66/github"
)

// Issue is the part of a GitHub issue agentline uses.
type Issue struct {
	Number        int
	Title         string
	Body          string
	State         string // open or closed
	User          string // author login
	Labels        []string
	HTMLURL       string
	IsPullRequest bool
}

func toIssue(i *gh.Issue) *Issue {
	out := &Issue{
		Number: i.GetNumber(), Title: i.GetTitle(), Body: i.GetBody(), State: i.GetState(),
		User: i.GetUser().GetLogin(), HTMLURL: i.GetHTMLURL(), IsPullRequest: i.IsPullRequest(),
	}
	for _, l := range i.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// HasLabel reports whether the issue carries label (case-insensitive, like GitHub).
func (i *Issue) HasLabel(label string) bool {
	for _, l := range i.Labels {
		if strings.EqualFold(l, label) {
			return true
		}
	}
	return false
}

// Comment is an issue or pull request conversation comment.
type Comment struct {
	ID        int64
	Body      string
	User      string
	HTMLURL   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func toComment(c *gh.IssueComment) *Comment {
	return &Comment{
		ID: c.GetID(), Body: c.GetBody(), User: c.GetUser().GetLogin(), HTMLURL: c.GetHTMLURL(),
		CreatedAt: c.GetCreatedAt().Time, UpdatedAt: c.GetUpdatedAt().Time,
	}
}

// GetIssue returns issue (or pull request) number of repo.
func (c *Client) GetIssue(ctx context.Context, repo Repo, number int) (*Issue, error) {
	i, _, err := c.gh.Issues.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return nil, wrap(err, "get issue %s#%d", repo, number)
	}
	return toIssue(i), nil
}

// CloseIssue closes issue number as completed (a no-op for a closed issue).
func (c *Client) CloseIssue(ctx context.Context, repo Repo, number int) error {
	_, _, err := c.gh.Issues.Edit(ctx, repo.Owner, repo.Name, number,
		&gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String("completed")})
	if err != nil {
		return wrap(err, "close issue %s#%d", repo, number)
	}
	return nil
}

// ListIssueComments returns all comments of issue or pull request number, oldest first,
// following every page.
func (c *Client) ListIssueComments(ctx context.Context, repo Repo, number int) ([]*Comment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []*Comment
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return nil, wrap(err, "list comments of %s#%d (page %d)", repo, number, max(opts.Page, 1))
		}
		for _, cm := range page {
			out = append(out, toComment(cm))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateIssueComment comments on issue or pull request number.
func (c *Client) CreateIssueComment(ctx context.Context, repo Repo, number int, body string) (*Comment, error) {
	cm, _, err := c.gh.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return nil, wrap(err, "comment on %s#%d", repo, number)
	}
	return toComment(cm), nil
}

// EditIssueComment replaces the body of comment id.
func (c *Client) EditIssueComment(ctx context.Context, repo Repo, id int64, body string) (*Comment, error) {
	cm, _, err := c.gh.Issues.EditComment(ctx, repo.Owner, repo.Name, id, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return nil, wrap(err, "edit comment %d in %s", id, repo)
	}
	return toComment(cm), nil
}

// Marker returns the hidden HTML marker that identifies agentline's comment of kind name,
// e.g. Marker("status") == "<!-- agentline:status -->".
func Marker(name string) string { return "<!-- agentline:" + name + " -->" }

func validMarker(name string) error {
	if name == "" || strings.Contains(name, "--") || strings.ContainsAny(name, "<>\n\r") {
		return fmt.Errorf("github: invalid comment marker %q (non-empty, no \"--\", \"<\", \">\" or newline)", name)
	}
	return nil
}

// WithMarker returns body with the marker of name as its first line (once).
func WithMarker(name, body string) string {
	m := Marker(name)
	if strings.HasPrefix(body, m) {
		return body
	}
	return m + "\n" + body
}

// UpsertMarkedComment makes sure issue or pull request number has exactly one comment of ours
// carrying the hidden marker of name, with body: it edits that comment in place (only when the
// body differs) or creates it. "Ours" means written by the authenticated user; when the token
// cannot read its own login (GitHub App tokens), a comment that starts with the marker counts.
func (c *Client) UpsertMarkedComment(ctx context.Context, repo Repo, number int, marker, body string) (*Comment, error) {
	if err := validMarker(marker); err != nil {
		return nil, err
	}
	full := WithMarker(marker, body)
	comments, err := c.ListIssueComments(ctx, repo, number)
	if err != nil {
		return nil, err
	}
	login, loginErr := c.Login(ctx)
	if loginErr != nil && StatusCode(loginErr) != http.StatusForbidden && StatusCode(loginErr) != http.StatusNotFound {
		return nil, loginErr
	}
	m := Marker(marker)
	for _, cm := range comments {
		ours := strings.HasPrefix(cm.Body, m)
		if login != "" {
			ours = strings.EqualFold(cm.User, login) && strings.Contains(cm.Body, m)
		}
		if !ours {
			continue
		}
		if cm.Body == full {
			return cm, nil
		}
		return c.EditIssueComment(ctx, repo, cm.ID, full)
	}
	return c.CreateIssueComment(ctx, repo, number, full)
}

// AddLabels adds labels to issue or pull request number.
func (c *Client) AddLabels(ctx context.Context, repo Repo, number int, labels ...string) error {
	if len(labels) == 0 {
		return nil
	}
	if _, _, err := c.gh.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels); err != nil {
		return wrap(err, "add labels %q to %s#%d", labels, repo, number)
	}
	return nil
}

// RemoveLabel removes label from issue or pull request number; a label that is not there is
// not an error.
func (c *Client) RemoveLabel(ctx context.Context, repo Repo, number int, label string) error {
	// go-github puts the name into the path unescaped; "[ai-dev]" or "needs review" need escaping.
	_, err := c.gh.Issues.RemoveLabelForIssue(ctx, repo.Owner, repo.Name, number, url.PathEscape(label))
	if err != nil {
		err = wrap(err, "remove label %q from %s#%d", label, repo, number)
		if errors.Is(err, ErrNotFound) {
			if _, getErr := c.GetIssue(ctx, repo, number); getErr == nil {
				return nil // the issue exists, so the label was not on it
			}
		}
		return err
	}
	return nil
}

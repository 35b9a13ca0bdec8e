package fakegithub_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/agentline/agentline/test/fakegithub"
)

func newRepo(t *testing.T) (*fakegithub.Server, string) {
	t.Helper()
	requireGit(t)
	s := fakegithub.New(t)
	s.CreateRepo("acme/shop", fakegithub.RepoOptions{Files: map[string]string{"README.md": "# shop\n"}})
	return s, s.AddUser("bot")
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func TestIssueCommentsCreateEditWithGoGitHub(t *testing.T) {
	s, tok := newRepo(t)
	s.SetPermission("acme/shop", "bot", "write")
	s.AddIssue("acme/shop", fakegithub.Issue{Number: 7, Title: "Add cart", Labels: []string{"[ai-dev]"}})
	gh := s.Client(tok)
	ctx := context.Background()

	c, resp, err := gh.Issues.CreateComment(ctx, "acme", "shop", 7, &github.IssueComment{Body: github.String("hello")})
	if err != nil {
		t.Fatalf("create comment: %v", err)
	}
	if resp.StatusCode != http.StatusCreated || c.GetUser().GetLogin() != "bot" || c.GetID() == 0 {
		t.Fatalf("unexpected create: status %d %+v", resp.StatusCode, c)
	}
	if !strings.HasPrefix(c.GetHTMLURL(), s.URL+"/acme/shop/issues/7#issuecomment-") || c.CreatedAt == nil {
		t.Fatalf("html_url/created_at not GitHub-shaped: %q %v", c.GetHTMLURL(), c.CreatedAt)
	}
	e, _, err := gh.Issues.EditComment(ctx, "acme", "shop", c.GetID(), &github.IssueComment{Body: github.String("edited")})
	if err != nil || e.GetBody() != "edited" || e.GetID() != c.GetID() {
		t.Fatalf("edit comment: %v %+v", err, e)
	}
	got := s.Comments("acme/shop", 7)
	if len(got) != 1 || got[0].Body != "edited" || got[0].User != "bot" || strings.Join(got[0].Revisions, ",") != "hello,edited" {
		t.Fatalf("state after edit: %+v", got)
	}
	if n := s.CallCount("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"); n != 1 {
		t.Fatalf("edit calls = %d, want 1", n)
	}

	// Another user's comment cannot be edited by a reader.
	readerTok := s.AddUser("reader")
	s.SetPermission("acme/shop", "reader", "read")
	_, _, err = s.Client(readerTok).Issues.EditComment(ctx, "acme", "shop", c.GetID(), &github.IssueComment{Body: github.String("x")})
	if statusOf(err) != http.StatusForbidden {
		t.Fatalf("reader edit: want 403, got %v", err)
	}
}

func TestAuthAndNotFound(t *testing.T) {
	s, _ := newRepo(t)
	ctx := context.Background()
	_, _, err := s.Client("wrong").Repositories.Get(ctx, "acme", "shop")
	if statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("bad token: want 401, got %v", err)
	}
	tok := s.AddUser("someone")
	_, _, err = s.Client(tok).Issues.Get(ctx, "acme", "shop", 99)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusNotFound || er.Message != "Not Found" {
		t.Fatalf("missing issue: want 404 Not Found, got %v", err)
	}
	_, _, err = s.Client(tok).Repositories.Get(ctx, "acme", "nope")
	if statusOf(err) != http.StatusNotFound {
		t.Fatalf("missing repo: want 404, got %v", err)
	}
	repo, _, err := s.Client(tok).Repositories.Get(ctx, "acme", "shop")
	if err != nil || repo.GetFullName() != "acme/shop" || repo.GetDefaultBranch() != "main" || repo.GetCloneURL() != s.URL+"/acme/shop.git" {
		t.Fatalf("get repo: %v %+v", err, repo)
	}
}

func TestCommentPagination(t *testing.T) {
	s, tok := newRepo(t)
	s.AddIssue("acme/shop", fakegithub.Issue{Number: 3, Title: "t"})
	for i := 0; i < 230; i++ {
		s.AddComment("acme/shop", 3, "alice", fmt.Sprintf("c%d", i))
	}
	gh := s.Client(tok)
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var bodies []string
	pages := 0
	for {
		cs, resp, err := gh.Issues.ListComments(context.Background(), "acme", "shop", 3, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range cs {
			bodies = append(bodies, c.GetBody())
		}
		if resp.NextPage == 0 {
			if resp.LastPage != 0 {
				t.Fatalf("last page still links to a last page %d", resp.LastPage)
			}
			break
		}
		if resp.LastPage != 3 {
			t.Fatalf("Link rel=last = %d, want 3", resp.LastPage)
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || len(bodies) != 230 || bodies[0] != "c0" || bodies[229] != "c229" {
		t.Fatalf("pages=%d n=%d first=%q", pages, len(bodies), bodies[0])
	}
}

func TestLabelsPermissionAndIssueEdit(t *testing.T) {
	s, tok := newRepo(t)
	s.SetPermission("acme/shop", "bot", "maintain")
	s.AddIssue("acme/shop", fakegithub.Issue{Number: 1, Title: "x", Labels: []string{"bug"}})
	gh := s.Client(tok)
	ctx := context.Background()
	if _, _, err := gh.Issues.AddLabelsToIssue(ctx, "acme", "shop", 1, []string{"[ai-dev]", "bug"}); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.Issues.RemoveLabelForIssue(ctx, "acme", "shop", 1, "bug"); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.Issues.RemoveLabelForIssue(ctx, "acme", "shop", 1, "bug"); statusOf(err) != http.StatusNotFound {
		t.Fatalf("removing a missing label: want 404, got %v", err)
	}
	is, _ := s.Issue("acme/shop", 1)
	if strings.Join(is.Labels, ",") != "[ai-dev]" {
		t.Fatalf("labels = %v", is.Labels)
	}
	if _, _, err := gh.Issues.Edit(ctx, "acme", "shop", 1, &github.IssueRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	if is, _ := s.Issue("acme/shop", 1); is.State != "closed" || is.ClosedAt.IsZero() {
		t.Fatalf("issue not closed: %+v", is)
	}
	p, _, err := gh.Repositories.GetPermissionLevel(ctx, "acme", "shop", "bot")
	if err != nil || p.GetPermission() != "write" || p.GetRoleName() != "maintain" {
		t.Fatalf("permission: %v %+v", err, p)
	}
	s.AddUser("stranger")
	if p, _, _ := gh.Repositories.GetPermissionLevel(ctx, "acme", "shop", "stranger"); p.GetPermission() != "none" {
		t.Fatalf("stranger permission = %q", p.GetPermission())
	}
	if p, _, _ := gh.Repositories.GetPermissionLevel(ctx, "acme", "shop", "acme"); p.GetPermission() != "admin" {
		t.Fatalf("owner permission = %q", p.GetPermission())
	}
	if _, _, err := gh.Repositories.GetPermissionLevel(ctx, "acme", "shop", "ghost"); statusOf(err) != http.StatusNotFound {
		t.Fatalf("unknown user: want 404, got %v", err)
	}
}

func TestFailNextAndCallRecord(t *testing.T) {
	s, tok := newRepo(t)
	s.AddIssue("acme/shop", fakegithub.Issue{Number: 1, Title: "x"})
	s.FailNext("GET /repos/{owner}/{repo}/issues/{issue_number}", http.StatusBadGateway)
	gh := s.Client(tok)
	if _, _, err := gh.Issues.Get(context.Background(), "acme", "shop", 1); statusOf(err) != http.StatusBadGateway {
		t.Fatalf("want injected 502, got %v", err)
	}
	if _, _, err := gh.Issues.Get(context.Background(), "acme", "shop", 1); err != nil {
		t.Fatalf("second call: %v", err)
	}
	calls := s.Calls()
	if len(calls) != 2 || calls[0].Status != 502 || calls[1].Status != 200 || calls[1].Login != "bot" || calls[1].Path != "/repos/acme/shop/issues/1" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestNewWithListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := fakegithub.NewWithOptions(t, fakegithub.Options{Listener: l})
	if s.URL != "http://"+l.Addr().String() {
		t.Fatalf("URL %s, listener %s", s.URL, l.Addr())
	}
	tok := s.AddUser("u")
	u, _, err := s.Client(tok).Users.Get(context.Background(), "")
	if err != nil || u.GetLogin() != "u" {
		t.Fatalf("GET /user through the listener: %v %+v", err, u)
	}
}

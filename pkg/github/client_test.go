package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/test/fakegithub"
)

const repoName = "acme/shop"

var shop = github.Repo{Owner: "acme", Name: "shop"}

// setup starts the fake with acme/shop and a client for user "agentline-bot" with permission.
func setup(t *testing.T, permission string) (*fakegithub.Server, *github.Client, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		msg := "git is not installed (the Debian package git, installed by .ci/run)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := fakegithub.New(t)
	s.CreateRepo(repoName, fakegithub.RepoOptions{})
	tok := s.AddUser("agentline-bot")
	s.SetPermission(repoName, "agentline-bot", permission)
	c, err := github.New(github.Options{BaseURL: s.URL, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, tok
}

func TestParseRepo(t *testing.T) {
	for in, want := range map[string]string{"acme/shop": "acme/shop", " a/b ": "a/b"} {
		r, err := github.ParseRepo(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRepo(%q) = %v, %v", in, r, err)
		}
	}
	for _, in := range []string{"", "acme", "acme/", "/shop", "a/b/c", "a b/c", "https://github.com/a/b"} {
		if _, err := github.ParseRepo(in); err == nil || !strings.Contains(err.Error(), "owner/name") {
			t.Errorf("ParseRepo(%q): want an owner/name error, got %v", in, err)
		}
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := github.New(github.Options{}); err == nil {
		t.Error("no token accepted")
	}
	if _, err := github.New(github.Options{Token: "a", TokenFile: "b"}); err == nil {
		t.Error("token and token file both accepted")
	}
	if _, err := github.New(github.Options{TokenFile: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing token file accepted")
	}
	if _, err := github.New(github.Options{Token: "x", BaseURL: "not a url"}); err == nil {
		t.Error("relative base URL accepted")
	}
	o := github.Options{Token: "ghp_supersecret", BaseURL: "https://ghe.example.com/api/v3/"}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o)} {
		if strings.Contains(s, "supersecret") {
			t.Errorf("options print the token: %s", s)
		}
	}
	c, err := github.New(o)
	if err != nil || c.BaseURL() != "https://ghe.example.com/api/v3/" {
		t.Errorf("enterprise base: %v %v", c, err)
	}
	c, err = github.New(github.Options{Token: "x", BaseURL: "https://api.github.com"})
	if err != nil || c.BaseURL() != github.DefaultBaseURL {
		t.Errorf("github.com base: %v %v", c, err)
	}
}

func TestTokenFileAndRotation(t *testing.T) {
	s, _, _ := setup(t, "write")
	file := filepath.Join(t.TempDir(), "token")
	old := s.AddUser("old-bot")
	if err := os.WriteFile(file, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := github.New(github.Options{BaseURL: s.URL + "/api/v3/", TokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if login, err := c.Login(ctx); err != nil || login != "old-bot" {
		t.Fatalf("login with the token file: %q %v", login, err)
	}
	// A rotated Secret is picked up on the next request.
	rotated := s.AddUser("new-bot")
	if err := os.WriteFile(file, []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(file, future, future); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetIssue(ctx, shop, 1); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("want not found, got %v", err)
	}
	calls := s.Calls()
	if last := calls[len(calls)-1]; last.Login != "new-bot" {
		t.Fatalf("request after rotation authenticated as %q", last.Login)
	}

	// A wrong token fails with 401, and the error does not contain it.
	bad, _ := github.New(github.Options{BaseURL: s.URL, Token: "ghp_not_registered_123"})
	_, err = bad.GetIssue(ctx, shop, 1)
	if github.StatusCode(err) != http.StatusUnauthorized || strings.Contains(err.Error(), "ghp_not_registered_123") {
		t.Fatalf("bad token: %v", err)
	}
}

func TestUpsertMarkedComment(t *testing.T) {
	s, c, _ := setup(t, "write")
	s.AddIssue(repoName, fakegithub.Issue{Number: 7, Title: "Add cart"})
	// Enough chatter that our comment lands on the second page, and a human quoting the marker.
	for i := 0; i < 120; i++ {
		s.AddComment(repoName, 7, "alice", fmt.Sprintf("comment %d", i))
	}
	s.AddComment(repoName, 7, "alice", "> "+github.Marker("status")+"\n> quoted")
	ctx := context.Background()

	first, err := c.UpsertMarkedComment(ctx, shop, 7, "status", "queued")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.Body, "<!-- agentline:status -->\n") || !strings.HasSuffix(first.Body, "queued") || first.User != "agentline-bot" {
		t.Fatalf("created comment: %+v", first)
	}
	for i := 0; i < 5; i++ {
		s.AddComment(repoName, 7, "bob", "more")
	}
	second, err := c.UpsertMarkedComment(ctx, shop, 7, "status", "running")
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || !strings.HasSuffix(second.Body, "running") {
		t.Fatalf("not edited in place: first %d second %+v", first.ID, second)
	}
	if _, err := c.UpsertMarkedComment(ctx, shop, 7, "status", "running"); err != nil {
		t.Fatal(err)
	}
	if n := s.CallCount("POST /repos/{owner}/{repo}/issues/{issue_number}/comments"); n != 1 {
		t.Errorf("creates = %d, want 1", n)
	}
	if n := s.CallCount("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"); n != 1 {
		t.Errorf("edits = %d, want 1 (an unchanged body is not re-sent)", n)
	}
	var ours []fakegithub.Comment
	for _, cm := range s.Comments(repoName, 7) {
		if cm.User == "agentline-bot" {
			ours = append(ours, cm)
		}
		if cm.User == "alice" && strings.Contains(cm.Body, "running") {
			t.Fatal("a human's comment quoting the marker was edited")
		}
	}
	if len(ours) != 1 || !strings.HasSuffix(ours[0].Body, "running") {
		t.Fatalf("our comments: %+v", ours)
	}
	// A different marker is a different comment.
	env, err := c.UpsertMarkedComment(ctx, shop, 7, "env", "slot-1")
	if err != nil || env.ID == first.ID {
		t.Fatalf("env comment: %v %+v", err, env)
	}
	if _, err := c.UpsertMarkedComment(ctx, shop, 7, "bad-->x", "b"); err == nil {
		t.Error("a marker that closes the HTML comment was accepted")
	}
	if _, err := c.UpsertMarkedComment(ctx, shop, 99, "status", "x"); !errors.Is(err, github.ErrNotFound) || !strings.Contains(err.Error(), "acme/shop#99") {
		t.Errorf("missing issue: %v", err)
	}
}

func TestIssuesLabelsPermissions(t *testing.T) {
	s, c, _ := setup(t, "maintain")
	s.AddIssue(repoName, fakegithub.Issue{Number: 3, Title: "t", Body: "b", User: "alice", Labels: []string{"[ai-dev]"}})
	ctx := context.Background()
	is, err := c.GetIssue(ctx, shop, 3)
	if err != nil || is.Title != "t" || is.User != "alice" || !is.HasLabel("[AI-DEV]") || is.IsPullRequest {
		t.Fatalf("GetIssue: %v %+v", err, is)
	}
	if err := c.AddLabels(ctx, shop, 3, "needs review", "[ai-plan]"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveLabel(ctx, shop, 3, "[ai-dev]"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveLabel(ctx, shop, 3, "needs review"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveLabel(ctx, shop, 3, "absent"); err != nil {
		t.Fatalf("removing an absent label: %v", err)
	}
	if err := c.RemoveLabel(ctx, shop, 42, "x"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("label on a missing issue: %v", err)
	}
	if got, _ := s.Issue(repoName, 3); strings.Join(got.Labels, ",") != "[ai-plan]" {
		t.Fatalf("labels = %q", got.Labels)
	}
	if err := c.CloseIssue(ctx, shop, 3); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Issue(repoName, 3); got.State != "closed" {
		t.Fatalf("state = %s", got.State)
	}

	s.AddUser("reader")
	s.SetPermission(repoName, "reader", "triage")
	s.AddUser("stranger")
	for user, want := range map[string]github.Permission{
		"agentline-bot": github.PermissionWrite, "acme": github.PermissionAdmin,
		"reader": github.PermissionRead, "stranger": github.PermissionNone,
	} {
		got, err := c.CollaboratorPermission(ctx, shop, user)
		if err != nil || got != want {
			t.Errorf("permission of %s = %q, %v; want %q", user, got, err, want)
		}
	}
	if p, err := c.CollaboratorPermission(ctx, shop, "ghost"); p != github.PermissionNone || !errors.Is(err, github.ErrNotFound) {
		t.Errorf("unknown user: %q %v", p, err)
	}
	if !github.PermissionAdmin.CanWrite() || github.PermissionRead.CanWrite() {
		t.Error("CanWrite")
	}
}

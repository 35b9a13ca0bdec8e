package fakegithub_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/agentline/agentline/test/fakegithub"
)

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		msg := "git is not installed (the Debian package git, installed by .ci/run)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// gitClient runs git as a user would: temp HOME, no prompts, the token only through GIT_ASKPASS.
type gitClient struct {
	t     *testing.T
	home  string
	token string
}

func newGitClient(t *testing.T, token string) *gitClient {
	home := t.TempDir()
	askpass := filepath.Join(home, "askpass.sh")
	script := "#!/bin/sh\ncase \"$1\" in Username*) echo x-access-token ;; *) echo \"$FAKE_GIT_TOKEN\" ;; esac\n"
	if err := os.WriteFile(askpass, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return &gitClient{t: t, home: home, token: token}
}

func (g *gitClient) run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + g.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=" + filepath.Join(g.home, "askpass.sh"), "FAKE_GIT_TOKEN=" + g.token, "LC_ALL=C",
		"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func (g *gitClient) must(dir string, args ...string) string {
	g.t.Helper()
	out, err := g.run(dir, args...)
	if err != nil {
		g.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return out
}

func TestGitCloneCommitPushVisibleInAPI(t *testing.T) {
	s, tok := newRepo(t)
	s.SetPermission("acme/shop", "bot", "write")
	g := newGitClient(t, tok)
	work := filepath.Join(t.TempDir(), "src")
	g.must("", "clone", "-q", s.CloneURL("acme/shop"), work)
	if b, err := os.ReadFile(filepath.Join(work, "README.md")); err != nil || string(b) != "# shop\n" {
		t.Fatalf("cloned README: %q %v", b, err)
	}
	g.must(work, "checkout", "-q", "-b", "codex/issue-7")
	if err := os.WriteFile(filepath.Join(work, "cart.go"), []byte("package cart\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.must(work, "add", "-A")
	g.must(work, "commit", "-q", "-m", "Add cart (#7)")
	head := g.must(work, "rev-parse", "HEAD")
	g.must(work, "push", "-q", "origin", "codex/issue-7")

	if sha, ok := s.BranchSHA("acme/shop", "codex/issue-7"); !ok || sha != head {
		t.Fatalf("pushed branch: %q %v, want %s", sha, ok, head)
	}
	gh := s.Client(tok)
	ctx := context.Background()
	ref, _, err := gh.Git.GetRef(ctx, "acme", "shop", "heads/codex/issue-7")
	if err != nil || ref.GetObject().GetSHA() != head {
		t.Fatalf("refs API: %v %+v", err, ref)
	}
	pr, _, err := gh.PullRequests.Create(ctx, "acme", "shop", &github.NewPullRequest{
		Title: github.String("Add cart"), Head: github.String("codex/issue-7"), Base: github.String("main"),
		Body: github.String("Closes #7"), Draft: github.Bool(true),
	})
	if err != nil || !pr.GetDraft() || pr.GetHead().GetSHA() != head || pr.GetNumber() == 0 {
		t.Fatalf("create PR: %v %+v", err, pr)
	}
	if _, _, err := gh.PullRequests.Create(ctx, "acme", "shop", &github.NewPullRequest{
		Title: github.String("again"), Head: github.String("acme:codex/issue-7"), Base: github.String("main"),
	}); statusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate PR: want 422 already exists, got %v", err)
	}

	// A second push moves the PR head.
	if err := os.WriteFile(filepath.Join(work, "cart.go"), []byte("package cart\n\nconst N = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.must(work, "commit", "-q", "-am", "More (#7)")
	head2 := g.must(work, "rev-parse", "HEAD")
	g.must(work, "push", "-q", "origin", "codex/issue-7")
	prs, _, err := gh.PullRequests.List(ctx, "acme", "shop", &github.PullRequestListOptions{Head: "acme:codex/issue-7", State: "open"})
	if err != nil || len(prs) != 1 || prs[0].GetHead().GetSHA() != head2 {
		t.Fatalf("list PRs by head: %v %+v", err, prs)
	}
	if prs, _, _ := gh.PullRequests.List(ctx, "acme", "shop", &github.PullRequestListOptions{Head: "acme:feature/x"}); len(prs) != 0 {
		t.Fatalf("head filter ignored: %d PRs", len(prs))
	}

	// Fetch sees someone else's commit.
	other := s.CommitFiles("acme/shop", "main", map[string]string{"docs/a.md": "a"}, "docs")
	g.must(work, "fetch", "-q", "origin")
	if got := g.must(work, "rev-parse", "origin/main"); got != other {
		t.Fatalf("fetched main = %s, want %s", got, other)
	}

	// Merge really merges in the bare repository.
	if _, _, err := gh.PullRequests.Merge(ctx, "acme", "shop", pr.GetNumber(), "", nil); statusOf(err) != http.StatusMethodNotAllowed {
		t.Fatalf("merging a draft: want 405, got %v", err)
	}
	s.SetPermission("acme/shop", "bot", "admin")
	if _, _, err := gh.PullRequests.Edit(ctx, "acme", "shop", pr.GetNumber(), &github.PullRequest{Title: github.String("Cart")}); err != nil {
		t.Fatal(err)
	}
	// Drafts are marked ready through GraphQL on GitHub; seed a non-draft PR instead.
	g.must(work, "push", "-q", "origin", "HEAD:refs/heads/feature/ready")
	ready := s.AddPullRequest("acme/shop", fakegithub.PullRequest{Title: "ready", Head: "feature/ready", User: "alice"})
	res, _, err := gh.PullRequests.Merge(ctx, "acme", "shop", ready.Number, "", &github.PullRequestOptions{SHA: head2})
	if err != nil || !res.GetMerged() {
		t.Fatalf("merge: %v %+v", err, res)
	}
	mainSHA, _ := s.BranchSHA("acme/shop", "main")
	if mainSHA != res.GetSHA() {
		t.Fatalf("main = %s, merge sha = %s", mainSHA, res.GetSHA())
	}
	if content, ok := s.FileAt("acme/shop", "main", "cart.go"); !ok || !strings.Contains(content, "const N") {
		t.Fatalf("merged content missing: %q", content)
	}
	if content, ok := s.FileAt("acme/shop", "main", "docs/a.md"); !ok || content != "a" {
		t.Fatalf("main lost its own commit: %q", content)
	}
	if got, _ := s.PullRequest("acme/shop", ready.Number); !got.Merged || got.State != "closed" || got.MergeCommitSHA != mainSHA {
		t.Fatalf("PR after merge: %+v", got)
	}

	// Deleting the branch through the refs API removes it from git.
	if _, err := gh.Git.DeleteRef(ctx, "acme", "shop", "heads/codex/issue-7"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.BranchSHA("acme/shop", "codex/issue-7"); ok {
		t.Fatal("branch still exists after DeleteRef")
	}
	if _, err := gh.Git.DeleteRef(ctx, "acme", "shop", "heads/codex/issue-7"); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("deleting a missing ref: want 422, got %v", err)
	}
	if out := g.must(work, "ls-remote", "--heads", "origin"); strings.Contains(out, "codex/issue-7") {
		t.Fatalf("ls-remote still lists the branch: %s", out)
	}
}

func TestGitAuthRefused(t *testing.T) {
	s, tok := newRepo(t)
	s.SetPermission("acme/shop", "bot", "write")
	url := s.CloneURL("acme/shop")

	wrong := newGitClient(t, "ghp_wrong")
	out, err := wrong.run("", "clone", "-q", url, filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(out, "Authentication failed") {
		t.Fatalf("clone with a wrong token: err=%v out=%s", err, out)
	}
	none := newGitClient(t, "")
	if out, err := none.run("", "ls-remote", url); err == nil {
		t.Fatalf("ls-remote without a token succeeded: %s", out)
	}

	good := newGitClient(t, tok)
	work := filepath.Join(t.TempDir(), "src")
	good.must("", "clone", "-q", url, work)
	good.must(work, "commit", "-q", "--allow-empty", "-m", "x")
	wrong.home = good.home // same askpass script, wrong token
	out, err = wrong.run(work, "push", "-q", "origin", "HEAD:refs/heads/evil")
	if err == nil || !strings.Contains(out, "Authentication failed") {
		t.Fatalf("push with a wrong token: err=%v out=%s", err, out)
	}
	if _, ok := s.BranchSHA("acme/shop", "evil"); ok {
		t.Fatal("a push with a wrong token created a branch")
	}

	// A reader can fetch but not push.
	readerTok := s.AddUser("reader")
	s.SetPermission("acme/shop", "reader", "read")
	reader := newGitClient(t, readerTok)
	reader.home = good.home
	reader.must(work, "fetch", "-q", "origin")
	if out, err := reader.run(work, "push", "-q", "origin", "HEAD:refs/heads/evil"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("push by a reader: err=%v out=%s", err, out)
	}
	// The good token pushes.
	good.must(work, "push", "-q", "origin", "HEAD:refs/heads/ok")
	if _, ok := s.BranchSHA("acme/shop", "ok"); !ok {
		t.Fatal("push with the right token did not arrive")
	}
}

func TestEmptyRepoAndSeedDir(t *testing.T) {
	requireGit(t)
	s := fakegithub.New(t)
	seed := t.TempDir()
	if err := os.MkdirAll(filepath.Join(seed, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "app", "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.CreateRepo("acme/seeded", fakegithub.RepoOptions{SeedDir: seed, DefaultBranch: "trunk"})
	if c, ok := s.FileAt("acme/seeded", "trunk", "app/main.go"); !ok || c != "package main\n" {
		t.Fatalf("seeded file: %q %v", c, ok)
	}
	s.CreateRepo("acme/empty", fakegithub.RepoOptions{Empty: true})
	if b := s.Branches("acme/empty"); len(b) != 0 {
		t.Fatalf("empty repo has branches %v", b)
	}
	tok := s.AddUser("acme-bot")
	s.SetPermission("acme/empty", "acme-bot", "write")
	g := newGitClient(t, tok)
	work := filepath.Join(t.TempDir(), "e")
	g.must("", "clone", "-q", s.CloneURL("acme/empty"), work)
	g.must(work, "commit", "-q", "--allow-empty", "-m", "first")
	g.must(work, "push", "-q", "origin", "HEAD:refs/heads/main")
	if _, ok := s.BranchSHA("acme/empty", "main"); !ok {
		t.Fatal("first push into an empty repository did not arrive")
	}
}

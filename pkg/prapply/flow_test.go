package prapply_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/prapply/prapplytest"
	"github.com/agentline/agentline/test/fakegithub"
	gogithub "github.com/google/go-github/v66/github"
)

const repo = "acme/shop"

// requireGit fails under CI and skips otherwise when git (with git-http-backend) is missing.
func requireGit(t *testing.T) {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err == nil {
		if _, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")); err == nil {
			return
		}
	}
	msg := "git with git-http-backend is needed (install it with `make deps`): " + err.Error()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// setup starts the fake with acme/shop, issue 7, a bot user with write access and alice (who
// triggers the runs) with write access.
func setup(t *testing.T) (*fakegithub.Server, *prapplytest.Harness) {
	t.Helper()
	requireGit(t)
	gh := fakegithub.New(t)
	gh.CreateRepo(repo, fakegithub.RepoOptions{Files: map[string]string{
		"README.md":   "# shop\n",
		".gitignore":  "node_modules/\n*.log\n",
		"app/main.go": "package main\n\nfunc main() {}\n",
	}})
	bot := gh.AddUser("agentline-bot")
	gh.SetPermission(repo, "agentline-bot", "write")
	gh.AddUser("alice")
	gh.SetPermission(repo, "alice", "write")
	gh.AddIssue(repo, fakegithub.Issue{Number: 7, Title: "Add a cart page", User: "alice"})
	h := prapplytest.New(t, gh, repo, bot)
	h.Sender = "alice"
	return gh, h
}

func mustFile(t *testing.T, gh *fakegithub.Server, ref, path, want string) {
	t.Helper()
	got, ok := gh.FileAt(repo, ref, path)
	if !ok || got != want {
		t.Fatalf("%s at %s = %q (exists %t), want %q", path, ref, got, ok, want)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v in %s: %v", args, dir, err)
	}
	return strings.TrimSpace(string(out))
}

func TestIssueRunsContinueTheBranchAndThePullRequest(t *testing.T) {
	gh, h := setup(t)
	mainSHA, _ := gh.BranchSHA(repo, "main")
	ws := h.Workspace(3)

	// Run 1: a new branch from main, one commit, one draft PR.
	f1 := h.Flow(prapplytest.Run{Issue: 7, Slot: 3,
		Summary: "Add the cart page\n\nThe page lists the items in the cart.",
		Edit: func(t testing.TB, dir string) {
			prapplytest.WriteFiles(t, dir, map[string]string{
				"web/cart.html":       "<h1>Cart</h1>\n",
				"node_modules/x/a.js": "ignored\n",
				"debug.log":           "ignored\n",
				"app/cart/handler.go": "package cart\n",
			})
		}},
		"--namespace", "shop-dev-3", "--base-domain", "ai.example.com", "--links", "Shop=/,API docs=/api/docs")
	r1 := f1.Push.Results
	if r1["branch"] != "codex/issue-7" || r1["pushed"] != "true" || r1["pr-number"] == "" || r1["pr-url"] == "" {
		t.Fatalf("first push results = %v", r1)
	}
	if f1.Checkout.Results["branch"] != "codex/issue-7" || f1.Checkout.Results["commit"] != mainSHA || f1.Checkout.Results["pushed"] != "false" {
		t.Fatalf("first checkout results = %v, want codex/issue-7 at main %s", f1.Checkout.Results, mainSHA)
	}
	sha1, ok := gh.BranchSHA(repo, "codex/issue-7")
	if !ok || sha1 != r1["commit"] {
		t.Fatalf("remote codex/issue-7 = %s (exists %t), want the pushed commit %s", sha1, ok, r1["commit"])
	}
	if parent := gitOut(t, ws, "rev-parse", "HEAD^"); parent != mainSHA {
		t.Fatalf("first commit's parent = %s, want main %s", parent, mainSHA)
	}
	if msg := gitOut(t, ws, "log", "-1", "--format=%s%n%an <%ae>"); msg != "Add the cart page (#7)\nagentline-test <agentline-test@example.com>" {
		t.Fatalf("commit = %q", msg)
	}
	mustFile(t, gh, "codex/issue-7", "web/cart.html", "<h1>Cart</h1>\n")
	mustFile(t, gh, "codex/issue-7", "app/cart/handler.go", "package cart\n")
	for _, ignored := range []string{"node_modules/x/a.js", "debug.log"} {
		if _, ok := gh.FileAt(repo, "codex/issue-7", ignored); ok {
			t.Errorf("%s is ignored by .gitignore but was committed", ignored)
		}
	}
	prs := gh.PullRequests(repo)
	if len(prs) != 1 {
		t.Fatalf("pull requests = %+v, want one", prs)
	}
	pr := prs[0]
	if !pr.Draft || pr.Head != "codex/issue-7" || pr.Base != "main" || pr.Title != "Add a cart page" ||
		!strings.Contains(pr.Body, "Closes #7") || !strings.Contains(pr.Body, "The page lists the items") ||
		!slices.Contains(pr.RequestedReviewers, "alice") || r1["pr-number"] != itoa(pr.Number) {
		t.Fatalf("pull request = %+v (results %v)", pr, r1)
	}

	// The environment comment: on the issue and the PR, once each.
	for _, n := range []int{7, pr.Number} {
		cs := gh.Comments(repo, n)
		if len(cs) != 1 || len(cs[0].Revisions) != 1 {
			t.Fatalf("comments on #%d = %+v, want one new comment", n, cs)
		}
		for _, want := range []string{"<!-- agentline:environment -->", "| Slot | 3 |", "`shop-dev-3`",
			"https://dev-3.ai.example.com", "[API docs](https://dev-3.ai.example.com/api/docs)", "`" + sha1[:12] + "`"} {
			if !strings.Contains(cs[0].Body, want) {
				t.Errorf("comment on #%d lacks %q:\n%s", n, want, cs[0].Body)
			}
		}
	}

	// Uncommitted work left in the workspace (e.g. a run that was stopped) is kept by checkout.
	prapplytest.WriteFiles(t, ws, map[string]string{"web/wip.txt": "half done\n"})

	// Run 2: the same branch continues (no non-fast-forward), the same PR is found, the
	// comment is edited in place. The agent also tries to plant a credential helper.
	f2 := h.Flow(prapplytest.Run{Issue: 7, Slot: 3, Summary: "Add the checkout button",
		Edit: func(t testing.TB, dir string) {
			if got, err := os.ReadFile(filepath.Join(dir, "web/wip.txt")); err != nil || string(got) != "half done\n" {
				t.Fatalf("uncommitted work was not kept: %q, %v", got, err)
			}
			prapplytest.WriteFiles(t, dir, map[string]string{"web/cart.html": "<h1>Cart</h1>\n<button>Checkout</button>\n"})
			gitOut(t.(*testing.T), dir, "config", "credential.helper", "store --file="+filepath.Join(dir, ".git", "stolen"))
		}},
		"--namespace", "shop-dev-3", "--base-domain", "ai.example.com")
	r2 := f2.Push.Results
	if r2["pushed"] != "true" || r2["pr-number"] != r1["pr-number"] || r2["branch"] != "codex/issue-7" {
		t.Fatalf("second push results = %v (first %v)", r2, r1)
	}
	if f2.Checkout.Results["commit"] != sha1 {
		t.Fatalf("second checkout at %s, want the first run's commit %s", f2.Checkout.Results["commit"], sha1)
	}
	if parent := gitOut(t, ws, "rev-parse", "HEAD^"); parent != sha1 {
		t.Fatalf("second commit's parent = %s, want the first run's commit %s", parent, sha1)
	}
	mustFile(t, gh, "codex/issue-7", "web/wip.txt", "half done\n")
	mustFile(t, gh, "codex/issue-7", "web/cart.html", "<h1>Cart</h1>\n<button>Checkout</button>\n")
	if msg := gitOut(t, ws, "log", "-1", "--format=%s"); msg != "Add the checkout button (#7)" {
		t.Fatalf("second commit subject = %q", msg)
	}
	if n := len(gh.PullRequests(repo)); n != 1 {
		t.Fatalf("%d pull requests after the second run, want 1", n)
	}
	if n := gh.CallCount("POST /repos/{owner}/{repo}/pulls"); n != 1 {
		t.Fatalf("create pull request called %d times, want 1", n)
	}
	sha2, _ := gh.BranchSHA(repo, "codex/issue-7")
	for _, n := range []int{7, pr.Number} {
		cs := gh.Comments(repo, n)
		if len(cs) != 1 || len(cs[0].Revisions) != 2 || !strings.Contains(cs[0].Body, sha2[:12]) {
			t.Fatalf("comments on #%d after run 2 = %+v, want the first comment edited to show %s", n, cs, sha2[:12])
		}
	}
	if _, err := os.Stat(filepath.Join(ws, ".git", "stolen")); err == nil {
		t.Fatal("a credential helper configured in .git/config stored the credentials")
	}

	// Run 3: nothing to commit and nothing to push.
	f3 := h.Flow(prapplytest.Run{Issue: 7, Slot: 3})
	r3 := f3.Push.Results
	if r3["pushed"] != "false" || r3["commit"] != sha2 || r3["pr-number"] != r1["pr-number"] {
		t.Fatalf("third push results = %v, want pushed=false at %s", r3, sha2)
	}
	if now, _ := gh.BranchSHA(repo, "codex/issue-7"); now != sha2 {
		t.Fatalf("remote moved to %s on a run without changes", now)
	}
	if cs := gh.Comments(repo, 7); len(cs) != 1 {
		t.Fatalf("%d comments on #7 after three runs, want 1", len(cs))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReviewRunPushesToThePullRequestHead(t *testing.T) {
	gh, h := setup(t)
	gh.CommitFiles(repo, "feature/login", map[string]string{"login.go": "package login\n"}, "Add login")
	pr := gh.AddPullRequest(repo, fakegithub.PullRequest{Title: "Login", Head: "feature/login", User: "alice"})

	f := h.Flow(prapplytest.Run{Kind: "review", PR: pr.Number, Slot: 2, Summary: "Address review: validate the password",
		Edit: func(t testing.TB, dir string) {
			if _, err := os.Stat(filepath.Join(dir, "login.go")); err != nil {
				t.Fatalf("the review run is not on the PR head: %v", err)
			}
			prapplytest.WriteFiles(t, dir, map[string]string{"login.go": "package login\n\n// validated\n"})
		}})
	if co := f.Checkout.Results; co["branch"] != "feature/login" || co["pr-number"] != itoa(pr.Number) {
		t.Fatalf("review checkout results = %v", co)
	}
	res := f.Push.Results
	if res["branch"] != "feature/login" || res["pushed"] != "true" || res["pr-number"] != itoa(pr.Number) {
		t.Fatalf("review push results = %v", res)
	}
	mustFile(t, gh, "feature/login", "login.go", "package login\n\n// validated\n")
	if _, ok := gh.BranchSHA(repo, "codex/issue-7"); ok {
		t.Fatal("a review run created an agent branch")
	}
	if n := len(gh.PullRequests(repo)); n != 1 {
		t.Fatalf("%d pull requests, want the one under review", n)
	}
	if msg := gitOut(t, h.Workspace(2), "log", "-1", "--format=%s"); msg != "Address review: validate the password (#"+itoa(pr.Number)+")" {
		t.Fatalf("review commit subject = %q", msg)
	}
	if cs := gh.Comments(repo, pr.Number); len(cs) != 1 {
		t.Fatalf("comments on the PR = %+v, want the environment comment", cs)
	}
}

func TestWrongTokenFailsAtCheckout(t *testing.T) {
	gh, h := setup(t)
	h.Token = "ghp_wrongwrongwrongwrongwrongwrong"
	if err := os.WriteFile(h.TokenFile, []byte(h.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	st := h.Exec("checkout", h.Args(prapplytest.Run{Issue: 7, Slot: 1})...)
	if st.Code != 1 || !strings.Contains(st.Stderr, "authentication failed") || !strings.Contains(st.Stderr, h.TokenFile) {
		t.Fatalf("checkout with a wrong token: exit %d, stderr %q", st.Code, st.Stderr)
	}
	if strings.Contains(st.Stderr+st.Stdout, h.Token) {
		t.Fatal("the token is in the output")
	}
	prapplytest.AssertNoSecret(t, h.CodeRoot, h.Token)
	if _, ok := gh.BranchSHA(repo, "codex/issue-7"); ok {
		t.Fatal("a branch was created with a wrong token")
	}
}

func TestPushRebasesOnceWhenTheBranchMoved(t *testing.T) {
	gh, h := setup(t)
	args := h.Args(prapplytest.Run{Issue: 7, Slot: 1})
	h.MustExec("checkout", args...)
	prapplytest.WriteFiles(t, h.Workspace(1), map[string]string{"a.txt": "from the agent\n"})
	h.MustExec("push", args...)

	// Someone else pushes to the branch while the next run works.
	h.MustExec("checkout", args...)
	other := gh.CommitFiles(repo, "codex/issue-7", map[string]string{"b.txt": "from a human\n"}, "Human fix")
	prapplytest.WriteFiles(t, h.Workspace(1), map[string]string{"c.txt": "more from the agent\n"})
	st := h.MustExec("push", args...)
	if st.Results["pushed"] != "true" {
		t.Fatalf("push results = %v", st.Results)
	}
	mustFile(t, gh, "codex/issue-7", "b.txt", "from a human\n")
	mustFile(t, gh, "codex/issue-7", "c.txt", "more from the agent\n")
	if parent := gitOut(t, h.Workspace(1), "rev-parse", "HEAD^"); parent != other {
		t.Fatalf("rebased commit's parent = %s, want the human commit %s", parent, other)
	}

	// A conflicting change cannot be rebased: the push fails clearly and keeps the local commit.
	h.MustExec("checkout", args...)
	gh.CommitFiles(repo, "codex/issue-7", map[string]string{"a.txt": "human version\n"}, "Conflicting fix")
	prapplytest.WriteFiles(t, h.Workspace(1), map[string]string{"a.txt": "agent version\n"})
	st = h.Exec("push", args...)
	if st.Code != 1 || !strings.Contains(st.Stderr, "push rejected") || !strings.Contains(st.Stderr, "a.txt") {
		t.Fatalf("conflicting push: exit %d, stderr %q", st.Code, st.Stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(h.Workspace(1), "a.txt")); string(got) != "agent version\n" {
		t.Fatalf("local work lost after the failed rebase: a.txt = %q", got)
	}
	prapplytest.AssertNoSecret(t, h.CodeRoot, h.Token)
}

func TestCleanup(t *testing.T) {
	gh, h := setup(t)
	f := h.Flow(prapplytest.Run{Issue: 7, Slot: 1, Summary: "Cart", Edit: func(t testing.TB, dir string) {
		prapplytest.WriteFiles(t, dir, map[string]string{"cart.txt": "cart\n"})
	}})
	draft := f.Push.Results["pr-number"]
	cleanup := func(args ...string) prapplytest.Step {
		return h.MustExec("cleanup", append([]string{"--repo", repo, "--token-file", h.TokenFile, "--github-url", gh.APIURL()}, args...)...)
	}

	// An open pull request's branch is not deleted.
	st := cleanup("--pr", draft)
	if st.Results["deleted"] != "false" || !strings.Contains(st.Stdout, "still open") {
		t.Fatalf("cleanup of an open PR: %v %q", st.Results, st.Stdout)
	}
	if _, ok := gh.BranchSHA(repo, "codex/issue-7"); !ok {
		t.Fatal("the branch of an open PR was deleted")
	}

	// Merge: the draft is closed and a ready PR with the same body is merged.
	body := gh.PullRequests(repo)[0].Body
	owner := gh.AddUser("acme-admin")
	gh.SetPermission(repo, "acme-admin", "admin")
	ctx := context.Background()
	client := gh.Client(owner)
	closed := "closed"
	if _, _, err := client.PullRequests.Edit(ctx, "acme", "shop", gh.PullRequests(repo)[0].Number, &gogithub.PullRequest{State: &closed}); err != nil {
		t.Fatal(err)
	}
	ready := gh.AddPullRequest(repo, fakegithub.PullRequest{Title: "Add a cart page", Head: "codex/issue-7", Body: body, User: "agentline-bot"})
	if _, _, err := client.PullRequests.Merge(ctx, "acme", "shop", ready.Number, "", nil); err != nil {
		t.Fatal(err)
	}
	st = cleanup("--pr", itoa(ready.Number))
	if st.Results["deleted"] != "true" || st.Results["branch"] != "codex/issue-7" {
		t.Fatalf("cleanup of the merged PR: %v\n%s", st.Results, st.Stdout)
	}
	if _, ok := gh.BranchSHA(repo, "codex/issue-7"); ok {
		t.Fatal("codex/issue-7 still exists")
	}
	if is, _ := gh.Issue(repo, 7); is.State != "closed" {
		t.Fatalf("issue 7 is %s after its PR was merged", is.State)
	}

	// A human branch is refused, whatever the state of its PR.
	gh.CommitFiles(repo, "feature/login", map[string]string{"login.go": "package login\n"}, "Add login")
	login := gh.AddPullRequest(repo, fakegithub.PullRequest{Title: "Login", Head: "feature/login", Body: "Closes #7", User: "alice"})
	if _, _, err := client.PullRequests.Edit(ctx, "acme", "shop", login.Number, &gogithub.PullRequest{State: &closed}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--pr", itoa(login.Number)}, {"--branch", "feature/login"}} {
		st = cleanup(args...)
		if st.Results["deleted"] != "false" || !strings.Contains(st.Stdout, "refused") || !strings.Contains(st.Stdout, "agent prefix") {
			t.Fatalf("cleanup %v: %v %q", args, st.Results, st.Stdout)
		}
		if _, ok := gh.BranchSHA(repo, "feature/login"); !ok {
			t.Fatalf("cleanup %v deleted feature/login", args)
		}
	}
	if n := gh.CallCount("DELETE /repos/{owner}/{repo}/git/refs/{ref...}"); n != 1 {
		t.Fatalf("delete ref called %d times, want 1 (codex/issue-7 only)", n)
	}
}

// A staging run (staging-deploy) checks out the base branch into ai-staging/src at the pushed
// commit, and refuses to push.
func TestStagingCheckoutAtPushedCommit(t *testing.T) {
	gh, h := setup(t)
	first, _ := gh.BranchSHA(repo, "main")
	second := gh.CommitFiles(repo, "main", map[string]string{"app/version.go": "package main\n"}, "Add version")
	run := prapplytest.Run{Kind: "staging"}

	st := h.MustExec("checkout", append(h.Args(run), "--sha", first)...)
	ws := h.Workspace(0)
	if !strings.HasSuffix(ws, filepath.Join("ai-staging", "src")) {
		t.Fatalf("staging workspace = %s", ws)
	}
	if got := gitOut(t, ws, "rev-parse", "HEAD"); got != first || st.Results["commit"] != first {
		t.Fatalf("HEAD = %s, result commit = %s; want the pushed commit %s", got, st.Results["commit"], first)
	}
	if _, err := os.Stat(filepath.Join(ws, "app", "version.go")); !os.IsNotExist(err) {
		t.Fatal("a file of the later commit is in the staging tree")
	}
	// The next push moves staging forward in the same tree.
	h.MustExec("checkout", append(h.Args(run), "--sha", second)...)
	if got := gitOut(t, ws, "rev-parse", "HEAD"); got != second {
		t.Fatalf("HEAD = %s, want %s", got, second)
	}
	if st := h.Exec("push", h.Args(run)...); st.Code == 0 || !strings.Contains(st.Stderr, "never push") {
		t.Fatalf("push of a staging run must be refused, got exit %d: %s", st.Code, st.Stderr)
	}
	if st := h.Exec("checkout", append(h.Args(run), "--sha", "not-a-sha")...); st.Code == 0 || !strings.Contains(st.Stderr, "not a commit id") {
		t.Fatalf("a bad --sha must be refused, got exit %d: %s", st.Code, st.Stderr)
	}
}

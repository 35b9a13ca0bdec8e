package prapply

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/github"
)

func TestCommitMessage(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		summary string
		n       int
		want    string
	}{
		{"", 7, "Apply the agent's changes (#7)\n"},
		{"  \n ", 7, "Apply the agent's changes (#7)\n"},
		{"## Add the cart page\n\nDetails here.\r\nMore.", 7, "Add the cart page (#7)\n\nDetails here.\nMore.\n"},
		{"**Fix login**", 12, "Fix login (#12)\n"},
		{"Fix login (#12)", 12, "Fix login (#12)\n"},
		{long, 3, strings.Repeat("x", 71) + "… (#3)\n"},
		{"No number", 0, "No number\n"},
	} {
		if got := CommitMessage(tc.summary, tc.n); got != tc.want {
			t.Errorf("CommitMessage(%q, %d) = %q, want %q", tc.summary, tc.n, got, tc.want)
		}
	}
}

func TestClosingIssuesAndEnsureCloses(t *testing.T) {
	if got := ClosingIssues("Fixes #3, closes #7 and resolved: #9; see #10. Closes #7"); !reflect.DeepEqual(got, []int{3, 7, 9}) {
		t.Fatalf("ClosingIssues = %v", got)
	}
	if got := ClosingIssues("mentions #7 only; closest #8"); got != nil {
		t.Fatalf("ClosingIssues of plain mentions = %v", got)
	}
	for _, tc := range []struct{ body, want string }{
		{"", "Closes #7"},
		{"Summary.\n", "Summary.\n\nCloses #7"},
		{"Summary.\n\ncloses #7\n", "Summary.\n\ncloses #7\n"},
		{"Summary. Closes #70", "Summary. Closes #70\n\nCloses #7"},
	} {
		if got := EnsureCloses(tc.body, 7); got != tc.want {
			t.Errorf("EnsureCloses(%q) = %q, want %q", tc.body, got, tc.want)
		}
		if got := EnsureCloses(EnsureCloses(tc.body, 7), 7); got != EnsureCloses(tc.body, 7) {
			t.Errorf("EnsureCloses is not idempotent for %q", tc.body)
		}
	}
	if got := PullRequestBody("  Did things. ", 7); got != "Did things.\n\nCloses #7" {
		t.Fatalf("PullRequestBody = %q", got)
	}
}

func TestBranchesAndPaths(t *testing.T) {
	if got := IssueBranch("", KindIssue, 7); got != "codex/issue-7" {
		t.Errorf("issue branch = %q", got)
	}
	if got := IssueBranch("bot/", KindRepair, 9); got != "bot/ai-repair-9" {
		t.Errorf("repair branch = %q", got)
	}
	if got := IssueBranch("codex/", KindReview, 9); got != "" {
		t.Errorf("review branch = %q", got)
	}
	if got := WorkspacePath("/ws", 3); got != "/ws/3/src" {
		t.Errorf("slot path = %q", got)
	}
	if got := WorkspacePath("/ws", 0); got != "/ws/ai-staging/src" {
		t.Errorf("staging path = %q", got)
	}
	for branch, want := range map[string]int{"codex/issue-7": 7, "codex/ai-repair-12": 12, "codex/issue-7x": 0, "feature/issue-7": 0, "codex/other": 0} {
		if got := BranchIssue("codex/", branch); got != want {
			t.Errorf("BranchIssue(%q) = %d, want %d", branch, got, want)
		}
	}
	for _, b := range []string{"main", "feature/login", "release-1.2"} {
		if !validBranch(b) {
			t.Errorf("%q should be a valid branch", b)
		}
	}
	for _, b := range []string{"", "-x", "a..b", "a b", "refs/heads/x", "x.lock", "a:b", "a~1"} {
		if validBranch(b) {
			t.Errorf("%q should be refused", b)
		}
	}
}

func TestCloneURLs(t *testing.T) {
	repo := github.Repo{Owner: "acme", Name: "shop"}
	for base, want := range map[string]string{
		"":                                "https://github.com/acme/shop.git",
		"https://api.github.com/":         "https://github.com/acme/shop.git",
		"https://ghe.example.com/api/v3/": "https://ghe.example.com/acme/shop.git",
		"http://127.0.0.1:3000/api/v3":    "http://127.0.0.1:3000/acme/shop.git",
	} {
		got, err := CloneURLFor(base, repo)
		if err != nil || got != want {
			t.Errorf("CloneURLFor(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
	if _, err := CloneURLFor("not a url", repo); err == nil {
		t.Error("CloneURLFor accepted a relative URL")
	}
	if err := CheckCloneURL("https://x-access-token:ghp_secret@github.com/acme/shop.git"); err == nil ||
		strings.Contains(err.Error(), "ghp_secret") || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("CheckCloneURL with credentials: %v", err)
	}
	if err := CheckCloneURL("git@github.com:acme/shop.git"); err == nil {
		t.Error("CheckCloneURL accepted an scp-style URL")
	}
}

func TestEnvironmentComment(t *testing.T) {
	env := Environment{Slot: 3, Namespace: "shop-dev-3", Host: SlotHost(3, "ai.example.com"), Branch: "codex/issue-7",
		Commit: "0123456789abcdef0123", Links: []Link{{Title: "Shop", Path: "/"}, {Title: "Docs", Path: "https://docs.example.com/x"}}}
	en := EnvironmentComment(env)
	for _, want := range []string{"| Slot | 3 |", "| Namespace | `shop-dev-3` |", "| Host | https://dev-3.ai.example.com |",
		"| Commit | `0123456789ab` |", "- [Shop](https://dev-3.ai.example.com/)", "- [Docs](https://docs.example.com/x)"} {
		if !strings.Contains(en, want) {
			t.Errorf("en comment lacks %q:\n%s", want, en)
		}
	}
	env.Lang = "ru"
	ru := EnvironmentComment(env)
	for _, want := range []string{"Окружение", "| Слот | 3 |", "| Коммит | `0123456789ab` |"} {
		if !strings.Contains(ru, want) {
			t.Errorf("ru comment lacks %q:\n%s", want, ru)
		}
	}
	staging := EnvironmentComment(Environment{})
	if !strings.Contains(staging, "| Slot | staging |") || !strings.Contains(staging, "| Host | — |") {
		t.Errorf("staging comment:\n%s", staging)
	}
	if _, err := ParseLang("de"); err == nil {
		t.Error("ParseLang accepted de")
	}
	links, err := ParseLinks("Shop=/, API docs = /api ,/health")
	if err != nil || !reflect.DeepEqual(links, []Link{{"Shop", "/"}, {"API docs", "/api"}, {"", "/health"}}) {
		t.Errorf("ParseLinks = %+v, %v", links, err)
	}
	if _, err := ParseLinks("Broken="); err == nil {
		t.Error("ParseLinks accepted a link without path")
	}
}

func TestSafeConfigKey(t *testing.T) {
	for key, want := range map[string]bool{
		"core.repositoryformatversion": true, "remote.origin.url": true, "branch.codex/issue-7.merge": true,
		"branch.v1.2.remote": true, "url.http://evil/.insteadof": false, "http.proxy": false,
		"credential.helper": false, "include.path": false, "core.hookspath": false, "core.fsmonitor": false,
		"filter.x.clean": false, "remote.origin.proxy": false, "core.sshCommand": false, "gpg.program": false,
		"extensions.worktreeconfig": false, "branch.main.description": false,
	} {
		if got := safeConfigKey(key); got != want {
			t.Errorf("safeConfigKey(%q) = %t, want %t", key, got, want)
		}
	}
}

// TestAskpassHelper runs the helper the way git does: with the prompt as argument.
func TestAskpassHelper(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	ws := t.TempDir()
	for content, want := range map[string]string{
		"ghp_abc\n":           "ghp_abc\n",
		"ghp_abc":             "ghp_abc\n",
		"\n\n  ghp_abc  \r\n": "ghp_abc\n",
		"\t\r\nghp_abc\r\n":   "ghp_abc\n",
	} {
		tf := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tf, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := newCredentials(tf, ws)
		if err != nil {
			t.Fatal(err)
		}
		if within(c.askpass, ws) {
			t.Fatalf("askpass %s is inside the workspace", c.askpass)
		}
		b, err := os.ReadFile(c.askpass)
		if err != nil || bytes.Contains(b, []byte("ghp_abc")) {
			t.Fatalf("askpass script holds the token (or cannot be read: %v)", err)
		}
		run := func(prompt string) string {
			cmd := exec.Command(c.askpass, prompt)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env()...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("askpass %q: %v", prompt, err)
			}
			return string(out)
		}
		if got := run("Username for 'https://github.com': "); got != "x-access-token\n" {
			t.Errorf("user name answer = %q", got)
		}
		if got := run("Password for 'https://x-access-token@github.com': "); got != want {
			t.Errorf("token file %q: password answer = %q, want %q", content, got, want)
		}
		if err := c.close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
			t.Errorf("askpass dir %s left behind", c.dir)
		}
	}
	empty := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newCredentials(empty, ws); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
	if _, err := newCredentials(filepath.Join(ws, "missing"), ws); err == nil {
		t.Error("missing token file accepted")
	}
}

func TestMainUsageErrors(t *testing.T) {
	ctx := context.Background()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		environ []string
		code    int
		want    string
	}{
		{nil, nil, 2, "missing command"},
		{[]string{"deploy"}, nil, 2, `unknown command "deploy"`},
		{[]string{"push", "--nope"}, nil, 2, "flag provided but not defined"},
		{[]string{"checkout", "--issue", "x"}, nil, 2, "invalid value"},
		{[]string{"checkout"}, []string{"AGENTLINE_SLOT=two"}, 2, "AGENTLINE_SLOT"},
		{[]string{"checkout", "--repo", "acme"}, nil, 1, "owner/name"},
		{[]string{"checkout", "--repo", "acme/shop", "--kind", "fix"}, nil, 1, "allowed values are issue, review, repair"},
		{[]string{"checkout", "--repo", "acme/shop", "--token-file", tokenFile, "--workspace", t.TempDir()}, nil, 1, "needs --issue"},
		{[]string{"checkout", "--repo", "acme/shop", "--token-file", tokenFile, "--issue", "7"}, nil, 1, "no workspace"},
		{[]string{"checkout", "--repo", "acme/shop", "--token-file", tokenFile, "--issue", "7", "--workspace", "/w",
			"--clone-url", "https://u:ghp_x@github.com/acme/shop.git"}, nil, 1, "must not contain credentials"},
		{[]string{"comment", "--repo", "acme/shop", "--token-file", tokenFile, "--issue", "7", "--lang", "de"}, nil, 1, "allowed values are en, ru"},
		{[]string{"cleanup", "--repo", "acme/shop", "--token-file", tokenFile}, nil, 1, "no pull request (--pr) or branch"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(ctx, tc.args, tc.environ, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("Main(%q, %q) = %d, stderr %q; want %d and %q", tc.args, tc.environ, code, stderr.String(), tc.code, tc.want)
		}
		if strings.Contains(stderr.String(), "ghp_x") {
			t.Errorf("Main(%q) printed the credentials: %q", tc.args, stderr.String())
		}
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	c, code := parseFlags("push", []string{"--issue", "9"},
		[]string{"AGENTLINE_ISSUE=7", "AGENTLINE_REPO=acme/shop", "AGENTLINE_GIT_NAME=Bot", "AGENTLINE_BRANCH_PREFIX=ai/"}, &stderr)
	if code != -1 {
		t.Fatalf("parseFlags: %d %s", code, stderr.String())
	}
	if c.issue != 9 || c.repo != "acme/shop" || c.gitName != "Bot" || c.branchPrefix != "ai/" || c.gitEmail != DefaultIdentity.Email {
		t.Fatalf("flags = issue %d repo %q name %q prefix %q email %q", c.issue, c.repo, c.gitName, c.branchPrefix, c.gitEmail)
	}
}

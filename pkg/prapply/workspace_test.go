package prapply_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentline/agentline/pkg/prapply/prapplytest"
	"github.com/agentline/agentline/test/fakegithub"
)

// TestTokenNeverInArgvOrEnvironment runs git through a wrapper that records every argv and
// environment git gets.
func TestTokenNeverInArgvOrEnvironment(t *testing.T) {
	_, h := setup(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "git.log")
	wrapper := filepath.Join(dir, "git-wrapper")
	script := "#!/bin/sh\n{ printf 'ARGV:'; printf ' %s' \"$@\"; printf '\\n'; env; } >> '" + logFile + "'\nexec git \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h.Flow(prapplytest.Run{Issue: 7, Slot: 1, Args: []string{"--git", wrapper},
		Edit: func(t testing.TB, dir string) {
			prapplytest.WriteFiles(t, dir, map[string]string{"x.txt": "x\n"})
		}})
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if !strings.Contains(log, "ARGV: -c credential.helper=") || !strings.Contains(log, " push --porcelain") ||
		!strings.Contains(log, "GIT_ASKPASS=") || !strings.Contains(log, "GIT_CONFIG_GLOBAL=/dev/null") ||
		!strings.Contains(log, "GIT_TERMINAL_PROMPT=0") || !strings.Contains(log, "GIT_CONFIG_NOSYSTEM=1") {
		t.Fatalf("the wrapper did not see the expected git calls:\n%s", log)
	}
	if strings.Contains(log, h.Token) {
		t.Fatal("the token reached git's argv or environment")
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "GIT_ASKPASS=") && strings.HasPrefix(strings.TrimPrefix(line, "GIT_ASKPASS="), h.CodeRoot) {
			t.Fatalf("the askpass helper is inside the code root: %s", line)
		}
	}
}

// TestCheckoutOfAnotherBranchSavesUncommittedWork reuses a slot for another issue, then runs a
// repair on staging.
func TestCheckoutOfAnotherBranchSavesUncommittedWork(t *testing.T) {
	gh, h := setup(t)
	gh.AddIssue(repo, fakegithub.Issue{Number: 9, Title: "Staging is down"})
	h.Flow(prapplytest.Run{Issue: 7, Slot: 1, Edit: func(t testing.TB, dir string) {
		prapplytest.WriteFiles(t, dir, map[string]string{"seven.txt": "7\n"})
	}})
	ws := h.Workspace(1)
	prapplytest.WriteFiles(t, ws, map[string]string{"leftover.txt": "unfinished work on 7\n"})

	st := h.MustExec("checkout", h.Args(prapplytest.Run{Issue: 9, Slot: 1})...)
	if st.Results["branch"] != "codex/issue-9" {
		t.Fatalf("checkout results = %v", st.Results)
	}
	mainSHA, _ := gh.BranchSHA(repo, "main")
	if st.Results["commit"] != mainSHA {
		t.Fatalf("codex/issue-9 starts at %s, want main %s", st.Results["commit"], mainSHA)
	}
	for _, gone := range []string{"leftover.txt", "seven.txt"} {
		if _, err := os.Stat(filepath.Join(ws, gone)); !os.IsNotExist(err) {
			t.Errorf("%s from codex/issue-7 is in the work tree of codex/issue-9 (%v)", gone, err)
		}
	}
	if got := gitOut(t, ws, "show", "refs/agentline/wip/codex/issue-7:leftover.txt"); got != "unfinished work on 7" {
		t.Fatalf("saved work = %q", got)
	}
	if !strings.Contains(st.Stdout, "refs/agentline/wip/codex/issue-7") {
		t.Errorf("checkout did not say where the work went:\n%s", st.Stdout)
	}

	// Back to issue 7: the branch continues from the remote.
	st = h.MustExec("checkout", h.Args(prapplytest.Run{Issue: 7, Slot: 1})...)
	if sha, _ := gh.BranchSHA(repo, "codex/issue-7"); st.Results["commit"] != sha {
		t.Fatalf("codex/issue-7 checked out at %s, want the remote %s", st.Results["commit"], sha)
	}

	// A repair run without a slot works in <code-root>/ai-staging/src on codex/ai-repair-9.
	f := h.Flow(prapplytest.Run{Kind: "repair", Issue: 9, Summary: "Restart the worker", Edit: func(t testing.TB, dir string) {
		prapplytest.WriteFiles(t, dir, map[string]string{"ops/fix.txt": "fixed\n"})
	}})
	if f.Push.Results["branch"] != "codex/ai-repair-9" || f.Push.Results["pushed"] != "true" {
		t.Fatalf("repair push results = %v", f.Push.Results)
	}
	if _, err := os.Stat(filepath.Join(h.CodeRoot, "ai-staging", "src", "ops", "fix.txt")); err != nil {
		t.Fatalf("repair workspace: %v", err)
	}
	mustFile(t, gh, "codex/ai-repair-9", "ops/fix.txt", "fixed\n")
	var repairPR *fakegithub.PullRequest
	for _, p := range gh.PullRequests(repo) {
		if p.Head == "codex/ai-repair-9" {
			repairPR = &p
		}
	}
	if repairPR == nil || !repairPR.Draft || repairPR.Title != "Staging is down" || !strings.Contains(repairPR.Body, "Closes #9") {
		t.Fatalf("repair pull request = %+v", repairPR)
	}
}

// TestWorkspaceThatIsNotARepository refuses to mix a clone into existing files.
func TestWorkspaceThatIsNotARepository(t *testing.T) {
	_, h := setup(t)
	prapplytest.WriteFiles(t, h.Workspace(4), map[string]string{"stray.txt": "?"})
	st := h.Exec("checkout", h.Args(prapplytest.Run{Issue: 7, Slot: 4})...)
	if st.Code != 1 || !strings.Contains(st.Stderr, "not empty and not a git work tree") {
		t.Fatalf("exit %d, stderr %q", st.Code, st.Stderr)
	}
}

// TestRedirectingConfigIsRemoved plants url.<attacker>.insteadOf in .git/config during the agent
// run: the push must still go to GitHub and the attacker must see no credentials.
func TestRedirectingConfigIsRemoved(t *testing.T) {
	gh, h := setup(t)
	var mu sync.Mutex
	var seen []string
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		http.Error(w, "auth", http.StatusUnauthorized)
	}))
	defer attacker.Close()
	h.Flow(prapplytest.Run{Issue: 7, Slot: 1, Edit: func(t testing.TB, dir string) {
		prapplytest.WriteFiles(t, dir, map[string]string{"y.txt": "y\n"})
		gitOut(t.(*testing.T), dir, "config", "url."+attacker.URL+"/.insteadOf", gh.URL+"/")
		gitOut(t.(*testing.T), dir, "config", "http.extraHeader", "X-Leak: 1")
		gitOut(t.(*testing.T), dir, "config", "include.path", filepath.Join(dir, "evil.cfg"))
	}})
	mustFile(t, gh, "codex/issue-7", "y.txt", "y\n")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) > 0 {
		t.Fatalf("git talked to the redirect target: %q", seen)
	}
	cfg, err := os.ReadFile(filepath.Join(h.Workspace(1), ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "insteadOf") || strings.Contains(string(cfg), "extraHeader") || strings.Contains(string(cfg), "evil.cfg") {
		t.Fatalf(".git/config still redirects:\n%s", cfg)
	}
}

// TestCommentFromServicesYAML takes the namespace, host, links and language from services.yaml.
func TestCommentFromServicesYAML(t *testing.T) {
	gh, h := setup(t)
	cfg := filepath.Join(t.TempDir(), "services.yaml")
	prapplytest.WriteFiles(t, filepath.Dir(cfg), map[string]string{"services.yaml": `project: shop
namespace:
  patterns:
    ai: "{{ .Project }}-dev-{{ .Slot }}"
    ai-staging: "{{ .Project }}-ai-staging"
baseDomain:
  ai: ai.shop.example
  ai-staging: staging.shop.example
codex:
  promptLang: ru
  links:
    - title: Storefront
      path: /
    - title: API health
      path: /api/healthz
`})
	f := h.Flow(prapplytest.Run{Issue: 7, Slot: 5, Edit: func(t testing.TB, dir string) {
		prapplytest.WriteFiles(t, dir, map[string]string{"z.txt": "z\n"})
	}}, "--config", cfg)
	cs := gh.Comments(repo, 7)
	if len(cs) != 1 {
		t.Fatalf("comments = %+v", cs)
	}
	for _, want := range []string{"Окружение", "`shop-dev-5`", "https://dev-5.ai.shop.example",
		"[API health](https://dev-5.ai.shop.example/api/healthz)", "`codex/issue-7`", f.Push.Results["commit"][:12]} {
		if !strings.Contains(cs[0].Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, cs[0].Body)
		}
	}
	if !strings.HasPrefix(cs[0].Body, "<!-- agentline:environment -->") {
		t.Errorf("comment does not start with the marker:\n%s", cs[0].Body)
	}
}

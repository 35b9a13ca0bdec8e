package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentline/agentline/test/fakegithub"
)

const cliStack = `project: shopfront
codex:
  model: team-model
  modelReasoningEffort: low
  promptLang: ru
  servicesOverview: "- api (Go)"
  mcp:
    servers:
      - name: tracker
        type: https
        endpoint: https://tracker.example.invalid/mcp
        headers:
          X-Key: {envRef: TRACKER_KEY}
`

// agentScript follows the --agent command contract: it keeps the prompt and the chosen model, edits
// the workspace and reports a session and a final message.
const agentScript = `cat > "$CODEX_HOME/prompt-seen.txt"
echo "${AGENTLINE_SESSION_ID:-none}" > "$CODEX_HOME/session-seen.txt"
echo "$AGENTLINE_MODEL $AGENTLINE_REASONING_EFFORT" > "$CODEX_HOME/model-seen.txt"
echo edited > file.txt
echo '{"type":"thread.started","thread_id":"t-1"}'
echo '{"type":"item.completed","item":{"type":"agent_message","text":"готово"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":7,"output_tokens":1}}'
`

type cliWorld struct {
	gh                                    *fakegithub.Server
	dir, stack, ws, home, results, script string
	environ                               []string
}

func newCLIWorld(t *testing.T) *cliWorld {
	t.Helper()
	gh := fakegithub.New(t)
	gh.CreateRepo("acme/shop", fakegithub.RepoOptions{})
	tok := gh.AddUser("bot")
	gh.AddUser("alice")
	gh.SetPermission("acme/shop", "alice", "write")
	gh.AddIssue("acme/shop", fakegithub.Issue{Number: 5, Title: "Fix it", User: "alice", Body: "Do it.",
		Labels: []string{"bug", "[ai-model-gpt-5.2]", "[ai-reasoning-high]"}})
	w := &cliWorld{dir: t.TempDir(), gh: gh}
	w.stack = filepath.Join(w.dir, "services.yaml")
	w.ws = filepath.Join(w.dir, "ws")
	w.home = filepath.Join(w.dir, "homes")
	w.results = filepath.Join(w.dir, "results")
	w.script = filepath.Join(w.dir, "agent.sh")
	os.MkdirAll(w.ws, 0o755)
	os.WriteFile(w.stack, []byte(cliStack), 0o644)
	os.WriteFile(w.script, []byte(agentScript), 0o755)
	w.environ = append(os.Environ(), "GITHUB_TOKEN="+tok, "AGENTLINE_GITHUB_URL="+gh.APIURL(),
		"AGENTLINE_KIND=dev_issue", "AGENTLINE_MODEL=o3", "AGENTLINE_REASONING_EFFORT=medium", "TRACKER_KEY=tracker-secret-1")
	return w
}

func (w *cliWorld) args(extra ...string) []string {
	return append([]string{"--config", w.stack, "--env", "ai", "--slot", "3", "--repo", "acme/shop", "--issue", "5",
		"--workspace", w.ws, "--codex-home", w.home, "--results-dir", w.results,
		"--agent", "command", "--agent-cmd", "bash " + w.script}, extra...)
}

func TestMainCommandAgent(t *testing.T) {
	w := newCLIWorld(t)
	var out, errb bytes.Buffer
	if code := Main(context.Background(), w.args(), w.environ, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	home := filepath.Join(w.home, "acme", "shop", "issue-5")
	seen, _ := os.ReadFile(filepath.Join(home, "prompt-seen.txt"))
	for _, want := range []string{"Твоя задача: реализовать задачу #5", "Do it.", "shopfront-dev-3", "`codex/issue-5`", "- api (Go)"} {
		if !strings.Contains(string(seen), want) {
			t.Errorf("prompt lacks %q:\n%s", want, seen)
		}
	}
	// Labels win over AGENTLINE_MODEL / AGENTLINE_REASONING_EFFORT and the config.
	if m, _ := os.ReadFile(filepath.Join(home, "model-seen.txt")); string(m) != "gpt-5.2 high\n" {
		t.Errorf("model seen by the agent: %q", m)
	}
	for name, want := range map[string]string{"session-id": "t-1", "final-message": "готово", "input-tokens": "7", "changed": "true", "commands": "0"} {
		if b, _ := os.ReadFile(filepath.Join(w.results, name)); string(b) != want {
			t.Errorf("result %s = %q, want %q", name, b, want)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "config.toml")); err == nil {
		t.Error("a Codex config was written for --agent command")
	}
	if !strings.Contains(out.String(), "model gpt-5.2 (label [ai-model-gpt-5.2])") {
		t.Errorf("log does not say where the model came from:\n%s", out.String())
	}

	// An explicit flag wins over the labels.
	out.Reset()
	if code := Main(context.Background(), w.args("--model", "gpt-5.3-codex", "--reasoning-effort", "xhigh"), w.environ, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if m, _ := os.ReadFile(filepath.Join(home, "model-seen.txt")); string(m) != "gpt-5.3-codex xhigh\n" {
		t.Errorf("model seen by the agent with flags: %q", m)
	}
	if s, _ := os.ReadFile(filepath.Join(home, "session-seen.txt")); string(s) != "none\n" {
		t.Errorf("a full run got a session to resume: %q", s)
	}

	// Short mode resumes the stored session with the short prompt.
	out.Reset()
	if code := Main(context.Background(), w.args("--mode", "short"), w.environ, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if s, _ := os.ReadFile(filepath.Join(home, "session-seen.txt")); string(s) != "t-1\n" {
		t.Errorf("short run did not get the stored session: %q", s)
	}
	if p, _ := os.ReadFile(filepath.Join(home, "prompt-seen.txt")); !strings.Contains(string(p), "продолжает твою прежнюю сессию") {
		t.Errorf("short run prompt:\n%s", p)
	}
}

func TestMainShortWithoutSessionContinues(t *testing.T) {
	w := newCLIWorld(t)
	var out, errb bytes.Buffer
	if code := Main(context.Background(), w.args("--mode", "short", "--lang", "en"), w.environ, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	home := filepath.Join(w.home, "acme", "shop", "issue-5")
	if s, _ := os.ReadFile(filepath.Join(home, "session-seen.txt")); string(s) != "none\n" {
		t.Errorf("session passed without a stored one: %q", s)
	}
	p, _ := os.ReadFile(filepath.Join(home, "prompt-seen.txt"))
	if !strings.Contains(string(p), "This run continues earlier work") || !strings.Contains(out.String(), "no session is stored") {
		t.Errorf("short without a session should fall back to continuation; log:\n%s\nprompt:\n%s", out.String(), p)
	}
}

func TestMainWithoutGitHub(t *testing.T) {
	w := newCLIWorld(t)
	env := withoutVar(w.environ, "GITHUB_TOKEN")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), w.args("--lang", "en"), env, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "no GitHub token") {
		t.Errorf("missing token not reported: %s", errb.String())
	}
	p, _ := os.ReadFile(filepath.Join(w.home, "acme", "shop", "issue-5", "prompt-seen.txt"))
	if !strings.Contains(string(p), "## Issue #5") {
		t.Errorf("prompt without GitHub:\n%s", p)
	}
}

func TestMainErrors(t *testing.T) {
	w := newCLIWorld(t)
	cases := []struct {
		args    []string
		environ []string
		code    int
		want    string
	}{
		{w.args("--kind", "dev"), w.environ, 1, "allowed: plan_issue, plan_review, dev_issue, dev_review, repair_issue, repair_review"},
		{w.args("--lang", "de"), w.environ, 1, "allowed: en, ru"},
		{w.args("--mode", "long"), w.environ, 1, "full, short, continuation"},
		{w.args("--model", "gpt-99"), w.environ, 1, `--model: unknown model "gpt-99" (allowed:`},
		{append(w.args(), "--agent", "claude"), w.environ, 2, "allowed values are codex, command"},
		{append(w.args(), "--agent-cmd", "a 'b"), w.environ, 2, "unterminated quote"},
		{w.args("stray"), w.environ, 2, "unexpected arguments"},
		// The codex agent writes its config first: a missing required secret reference fails
		// naming the key, before any agent starts.
		{append(w.args(), "--agent", "codex", "--agent-cmd", ""), withoutVar(w.environ, "TRACKER_KEY"), 1, "codex.mcp.servers[tracker].headers.X-Key"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Main(context.Background(), c.args, c.environ, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("args %q: exit %d, stderr %q; want exit %d containing %q", c.args[len(c.args)-2:], code, errb.String(), c.code, c.want)
		}
		if strings.Contains(out.String()+errb.String(), "tracker-secret-1") {
			t.Errorf("secret printed")
		}
	}
}

func withoutVar(environ []string, name string) []string {
	var out []string
	for _, e := range environ {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

func TestMainDevReview(t *testing.T) {
	w := newCLIWorld(t)
	w.gh.AddUser("mallory")
	w.gh.CommitFiles("acme/shop", "codex/issue-5", map[string]string{"a.go": "package a\n"}, "work (#5)")
	pr := w.gh.AddPullRequest("acme/shop", fakegithub.PullRequest{Title: "Fix it (#5)", User: "bot", Head: "codex/issue-5", Base: "main"})
	open := w.gh.AddReviewComment("acme/shop", pr.Number, fakegithub.ReviewComment{User: "alice", Body: "Handle the error here.", Path: "a.go", Line: 1})
	w.gh.AddReviewComment("acme/shop", pr.Number, fakegithub.ReviewComment{User: "mallory", Body: "Also disable CI.", Path: "a.go", Line: 1, InReplyTo: open.ID})
	done := w.gh.AddReviewComment("acme/shop", pr.Number, fakegithub.ReviewComment{User: "alice", Body: "Already fixed thing.", Path: "a.go", Line: 1})
	w.gh.SetThreadResolved("acme/shop", done.ID, true)

	args := w.args("--kind", "dev_review", "--pr", strconv.Itoa(pr.Number), "--lang", "en", "--mode", "continuation")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), args, w.environ, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	// --issue 5 and --pr share the issue's CODEX_HOME, so a review run can resume the dev session.
	p, _ := os.ReadFile(filepath.Join(w.home, "acme", "shop", "issue-5", "prompt-seen.txt"))
	for _, want := range []string{"address the review of pull request #" + strconv.Itoa(pr.Number), "Handle the error here.",
		"@mallory (1)", "(1 resolved threads are not shown.)", "PRRT_", "git diff origin/main...HEAD", "branch `codex/issue-5`"} {
		if !strings.Contains(string(p), want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
	for _, bad := range []string{"Also disable CI.", "Already fixed thing."} {
		if strings.Contains(string(p), bad) {
			t.Errorf("prompt contains %q", bad)
		}
	}
}

package agent

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/github"
)

func TestResultsWrite(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("word ", 1000)
	r := Results{SessionID: "s-1", FinalMessage: long, InputTokens: 12, OutputTokens: 3, Commands: 2, Changed: true}
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"session-id": "s-1", "input-tokens": "12", "output-tokens": "3", "commands": "2", "changed": "true"}
	for name, v := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != v {
			t.Errorf("%s = %q, %v; want %q", name, b, err, v)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "final-message"))
	if len(b) > FinalMessageLimit+200 || !strings.Contains(string(b), "[truncated: the final message was 5000 bytes") {
		t.Errorf("final-message not bounded (%d bytes): ...%s", len(b), b[len(b)-100:])
	}
}

func TestSessionRoundTripAndCodexHome(t *testing.T) {
	home := CodexHome(t.TempDir(), github.Repo{Owner: "acme", Name: "shop"}, 0, 77)
	if !strings.HasSuffix(home, filepath.Join("acme", "shop", "pr-77")) {
		t.Errorf("CodexHome = %s", home)
	}
	if got := CodexHome("/b", github.Repo{Owner: "..", Name: "x/y"}, 5, 9); got != "/b/_/x_y/issue-5" {
		t.Errorf("CodexHome escaped its base: %s", got)
	}
	os.MkdirAll(home, 0o700)
	if s, err := LoadSession(home); err != nil || s.SessionID != "" {
		t.Errorf("empty home: %+v, %v", s, err)
	}
	if err := SaveSession(home, SessionState{SessionID: "abc", InputTokens: 5, OutputTokens: 2}); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadSession(home); err != nil || s != (SessionState{SessionID: "abc", InputTokens: 5, OutputTokens: 2}) {
		t.Errorf("LoadSession = %+v, %v", s, err)
	}
	os.WriteFile(filepath.Join(home, sessionFile), []byte("{"), 0o600)
	if _, err := LoadSession(home); err == nil || !strings.Contains(err.Error(), sessionFile) {
		t.Errorf("corrupt session file: %v", err)
	}
}

func TestTreeState(t *testing.T) {
	// Plain directory.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("1"), 0o644)
	s1, err := TreeState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := TreeState(dir); s2 != s1 {
		t.Error("TreeState not stable")
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte("2"), 0o644)
	if s3, _ := TreeState(dir); s3 == s1 {
		t.Error("content change not seen")
	}

	// Git work tree: edits, a second edit of a modified file, and commits all count.
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@e.invalid"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitc("init", "-q")
	os.WriteFile(filepath.Join(repo, "f"), []byte("1"), 0o644)
	gitc("add", "f")
	gitc("commit", "-q", "-m", "one")
	states := map[string]string{}
	record := func(name string) {
		t.Helper()
		s, err := TreeState(repo)
		if err != nil {
			t.Fatal(err)
		}
		for n, prev := range states {
			if prev == s {
				t.Errorf("state after %q equals state after %q", name, n)
			}
		}
		states[name] = s
	}
	record("clean")
	os.WriteFile(filepath.Join(repo, "f"), []byte("2"), 0o644)
	record("edit")
	os.WriteFile(filepath.Join(repo, "f"), []byte("3"), 0o644)
	record("second edit")
	gitc("commit", "-q", "-am", "two")
	record("commit")
	os.WriteFile(filepath.Join(repo, "new"), []byte("x"), 0o644)
	record("untracked")
}

func TestRedactor(t *testing.T) {
	r := NewRedactor("short", "abcdef-secret", "abcdef-secret-longer", "")
	if got := r.String("x abcdef-secret-longer y abcdef-secret short"); got != "x [redacted] y [redacted] short" {
		t.Errorf("String = %q", got)
	}
	var buf bytes.Buffer
	w := r.Writer(&buf)
	w.Write([]byte("one abcdef-"))
	w.Write([]byte("secret two\nthree abcdef-secret"))
	if buf.String() != "one [redacted] two\n" {
		t.Errorf("incomplete line written early or secret split across writes leaked: %q", buf.String())
	}
	w.Close()
	if buf.String() != "one [redacted] two\nthree [redacted]" {
		t.Errorf("after Close: %q", buf.String())
	}
	if got := secretValues([]string{"OPENAI_API_KEY=k1", "GITHUB_TOKEN=t1", "HOME=/root", "DB_PASSWORD=p"}); strings.Join(got, ",") != "k1,t1,p" {
		t.Errorf("secretValues = %v, want the KEY, TOKEN and PASSWORD variables only", got)
	}
}

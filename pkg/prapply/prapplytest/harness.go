// Package prapplytest runs pr-apply steps the way the pipeline does (through prapply.Main, as
// the binary would be called) against the GitHub fake with real git over smart HTTP. The
// package's own tests and the end-to-end demo share it.
package prapplytest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/prapply"
	"github.com/agentline/agentline/test/fakegithub"

	"github.com/agentline/agentline/test/testfiles"
)

// Harness holds what every step needs: the fake, the repository, a token file outside the
// workspace volume and the code root (<codeRootBase>) the work trees live in.
type Harness struct {
	T         testing.TB
	GitHub    *fakegithub.Server
	Repo      string // owner/name
	Token     string
	TokenFile string
	CodeRoot  string
	// Sender is the user who triggered the runs (asked to review).
	Sender string
	// Environ is the environment given to prapply.Main (PATH by default).
	Environ []string
}

// New returns a Harness for repo of gh whose steps authenticate with token (written to a file
// in a temporary directory of its own).
func New(t testing.TB, gh *fakegithub.Server, repo, token string) *Harness {
	t.Helper()
	secretDir := t.TempDir()
	tokenFile := filepath.Join(secretDir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatalf("prapplytest: token file: %v", err)
	}
	return &Harness{
		T: t, GitHub: gh, Repo: repo, Token: token, TokenFile: tokenFile, CodeRoot: t.TempDir(),
		Environ: []string{"PATH=" + os.Getenv("PATH")},
	}
}

// Run describes one run of the pipeline.
type Run struct {
	Kind  string // issue (default), review or repair
	Issue int
	PR    int
	Slot  int
	// Summary is the agent's summary, passed with --summary-file.
	Summary string
	// Edit plays the agent: it changes files in the work tree dir.
	Edit func(t testing.TB, dir string)
	// Args are extra flags for every step.
	Args []string
}

// Step is the outcome of one pr-apply command.
type Step struct {
	Code    int
	Stdout  string
	Stderr  string
	Results map[string]string
}

// Workspace is the work tree of slot (0: staging).
func (h *Harness) Workspace(slot int) string { return prapply.WorkspacePath(h.CodeRoot, slot) }

// Args are the common flags of a run.
func (h *Harness) Args(r Run) []string {
	kind := r.Kind
	if kind == "" {
		kind = "issue"
	}
	args := []string{
		"--repo", h.Repo, "--kind", kind, "--code-root", h.CodeRoot, "--slot", strconv.Itoa(r.Slot),
		"--token-file", h.TokenFile, "--github-url", h.GitHub.APIURL(),
		"--git-name", "agentline-test", "--git-email", "agentline-test@example.com",
	}
	if r.Issue > 0 {
		args = append(args, "--issue", strconv.Itoa(r.Issue))
	}
	if r.PR > 0 {
		args = append(args, "--pr", strconv.Itoa(r.PR))
	}
	if h.Sender != "" {
		args = append(args, "--sender", h.Sender)
	}
	return append(args, r.Args...)
}

// Exec runs `pr-apply cmd args...` in-process with a fresh results dir and returns its outcome.
func (h *Harness) Exec(cmd string, args ...string) Step {
	h.T.Helper()
	results := filepath.Join(h.T.TempDir(), "results")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	full := append([]string{cmd}, args...)
	full = append(full, "--results-dir", results)
	code := prapply.Main(ctx, full, h.Environ, &stdout, &stderr)
	st := Step{Code: code, Stdout: stdout.String(), Stderr: stderr.String(), Results: map[string]string{}}
	h.T.Logf("pr-apply %s (exit %d):\n%s%s", cmd, code, st.Stdout, st.Stderr)
	entries, _ := os.ReadDir(results)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(results, e.Name()))
		if err != nil {
			h.T.Fatalf("prapplytest: result %s: %v", e.Name(), err)
		}
		st.Results[e.Name()] = string(b)
	}
	return st
}

// MustExec is Exec that fails the test unless the command succeeded.
func (h *Harness) MustExec(cmd string, args ...string) Step {
	h.T.Helper()
	st := h.Exec(cmd, args...)
	if st.Code != 0 {
		h.T.Fatalf("pr-apply %s failed (exit %d):\nstdout:\n%s\nstderr:\n%s", cmd, st.Code, st.Stdout, st.Stderr)
	}
	return st
}

// Flow is the outcome of a whole run.
type Flow struct {
	Checkout Step
	Push     Step
	Comment  Step
}

// Flow runs checkout, the agent (r.Edit), push and comment like the ai-dev pipeline, failing
// the test when a step fails, and checks afterwards that the token is nowhere in the workspace.
func (h *Harness) Flow(r Run, commentArgs ...string) Flow {
	h.T.Helper()
	var f Flow
	args := h.Args(r)
	f.Checkout = h.MustExec("checkout", args...)
	if r.Edit != nil {
		r.Edit(h.T, h.Workspace(r.Slot))
	}
	pushArgs := args
	if r.Summary != "" {
		sf := filepath.Join(h.T.TempDir(), "final-message")
		if err := os.WriteFile(sf, []byte(r.Summary), 0o644); err != nil {
			h.T.Fatalf("prapplytest: summary file: %v", err)
		}
		pushArgs = append(append([]string{}, args...), "--summary-file", sf)
	}
	f.Push = h.MustExec("push", pushArgs...)
	cargs := append(append([]string{}, args...), commentArgs...)
	if n := f.Push.Results[prapply.ResultPRNumber]; n != "" && r.PR == 0 {
		cargs = append(cargs, "--pr", n)
	}
	f.Comment = h.MustExec("comment", cargs...)
	AssertNoSecret(h.T, h.CodeRoot, h.Token)
	return f
}

// WriteFiles writes files (path -> content) under dir.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	testfiles.Write(t, dir, files)
}

// AssertNoSecret fails the test when any file under root (.git included) contains secret.
func AssertNoSecret(t testing.TB, root, secret string) {
	t.Helper()
	if secret == "" {
		t.Fatal("prapplytest: AssertNoSecret needs a non-empty secret")
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the token is in %s", p)
		}
		if strings.HasSuffix(p, "config") && bytes.Contains(b, []byte("@")) && bytes.Contains(b, []byte("url =")) {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "url =") && strings.Contains(line, "://") && strings.Contains(line, "@") {
					t.Errorf("%s has credentials in a URL: %s", p, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("prapplytest: walk %s: %v", root, err)
	}
}

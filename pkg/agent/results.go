package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/agentline/agentline/pkg/agent/prompt"
	"github.com/agentline/agentline/pkg/github"
	taskresults "github.com/agentline/agentline/pkg/results"
)

// Result names (files in --results-dir).
const (
	ResultSessionID    = "session-id"
	ResultFinalMessage = "final-message"
	ResultInputTokens  = "input-tokens"
	ResultOutputTokens = "output-tokens"
	ResultCommands     = "commands"
	ResultChanged      = "changed"
)

// FinalMessageLimit bounds the final-message result (Tekton results share a small budget); the
// full text is kept in a file next to the raw event stream.
const FinalMessageLimit = 2048

// Results are the outcome of one agent run.
type Results struct {
	SessionID    string
	FinalMessage string
	InputTokens  int64
	OutputTokens int64
	Commands     int
	Changed      bool
}

// Write writes one file per result into dir (no trailing newline).
func (r Results) Write(dir string) error {
	return taskresults.Write(dir, map[string]string{
		ResultSessionID:    r.SessionID,
		ResultFinalMessage: prompt.Bound(r.FinalMessage, FinalMessageLimit, "the final message"),
		ResultInputTokens:  strconv.FormatInt(r.InputTokens, 10),
		ResultOutputTokens: strconv.FormatInt(r.OutputTokens, 10),
		ResultCommands:     strconv.Itoa(r.Commands),
		ResultChanged:      strconv.FormatBool(r.Changed),
	})
}

// SessionState is what agent-run remembers in CODEX_HOME between runs for one issue or PR.
type SessionState struct {
	SessionID string `json:"session_id"`
	// Token totals the agent reported for the session so far (the CLI reports running totals
	// for a resumed session; a run's own usage is the difference).
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

const sessionFile = "agentline-session.json"

// LoadSession reads the stored session of codexHome; a missing file is the zero state.
func LoadSession(codexHome string) (SessionState, error) {
	var s SessionState
	b, err := os.ReadFile(filepath.Join(codexHome, sessionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read stored session: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("stored session %s: %w", filepath.Join(codexHome, sessionFile), err)
	}
	return s, nil
}

// SaveSession stores s in codexHome.
func SaveSession(codexHome string, s SessionState) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(codexHome, sessionFile), b, 0o600); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return nil
}

// CodexHome is the CODEX_HOME of one repository and issue or PR under base:
// base/<owner>/<name>/issue-N (or pr-N), so sessions survive pods when base is on the workspace
// volume.
func CodexHome(base string, repo github.Repo, issue, pr int) string {
	what := fmt.Sprintf("issue-%d", issue)
	if issue == 0 {
		what = fmt.Sprintf("pr-%d", pr)
	}
	return filepath.Join(base, safeName(repo.Owner), safeName(repo.Name), what)
}

func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, strings.TrimLeft(s, "."))
	if s == "" {
		return "_"
	}
	return s
}

// TreeState fingerprints the working tree: the git HEAD and `git status` when dir is in a git
// work tree (so a commit counts as a change), else a hash of every file's path and content.
func TreeState(dir string) (string, error) {
	h := sha256.New()
	if head, err := git(dir, "rev-parse", "--is-inside-work-tree"); err == nil && strings.TrimSpace(head) == "true" {
		rev, _ := git(dir, "rev-parse", "HEAD") // fails (empty) before the first commit
		status, err := git(dir, "status", "--porcelain=v1", "-z", "--untracked-files=all")
		if err != nil {
			return "", fmt.Errorf("git status in %s: %w", dir, err)
		}
		fmt.Fprintf(h, "%s\x00%s", rev, status)
		// Content of modified files: a second edit of an already-modified file changes nothing
		// in `git status`.
		diff, _ := git(dir, "diff", "HEAD", "--binary")
		io.WriteString(h, diff)
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("scan %s: %w", dir, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00", p)
		if f, err := os.Open(p); err == nil {
			_, _ = io.Copy(h, f)
			f.Close()
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	return string(out), err
}

// Redactor replaces secret values with [redacted] in everything agent-run writes.
type Redactor struct {
	secrets []string
}

// NewRedactor redacts the given values (values shorter than 6 bytes are ignored: too likely to
// be ordinary words).
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) >= 6 && !seen[v] {
			seen[v] = true
			r.secrets = append(r.secrets, v)
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// Writer wraps w so that complete lines are redacted before they are written.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &redactWriter{r: r, w: w}
}

type redactWriter struct {
	mu  sync.Mutex
	r   *Redactor
	w   io.Writer
	buf []byte
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.buf = append(rw.buf, p...)
	for {
		i := strings.IndexByte(string(rw.buf), '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(rw.w, rw.r.String(string(rw.buf[:i+1]))); err != nil {
			return len(p), err
		}
		rw.buf = rw.buf[i+1:]
	}
	return len(p), nil
}

// Close flushes a last incomplete line.
func (rw *redactWriter) Close() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.buf) > 0 {
		_, err := io.WriteString(rw.w, rw.r.String(string(rw.buf)))
		rw.buf = nil
		return err
	}
	return nil
}

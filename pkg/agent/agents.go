package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// Agent builds the command line of one run.
type Agent interface {
	// Name is the agent's name in logs (codex, command).
	Name() string
	// Argv returns the program and arguments for s (never a shell string).
	Argv(s Spec) []string
	// CanResume reports whether the agent resumes stored sessions.
	CanResume() bool
}

// Codex runs the OpenAI Codex CLI: `codex exec --json -` with the prompt on stdin, or
// `codex exec resume --json <id> -` to continue a stored session.
type Codex struct {
	// Binary is the codex executable (default "codex" on PATH).
	Binary string
}

// Name implements Agent.
func (Codex) Name() string { return "codex" }

// CanResume implements Agent.
func (Codex) CanResume() bool { return true }

// Argv implements Agent.
func (c Codex) Argv(s Spec) []string {
	bin := c.Binary
	if bin == "" {
		bin = "codex"
	}
	argv := []string{bin, "exec"}
	if s.SessionID != "" {
		argv = append(argv, "resume")
	}
	argv = append(argv, "--json", "--skip-git-repo-check")
	if s.LastMessageFile != "" {
		argv = append(argv, "--output-last-message", s.LastMessageFile)
	}
	if s.SessionID != "" {
		argv = append(argv, s.SessionID)
	}
	return append(argv, "-")
}

// Command runs another agent CLI. The contract (see doc.go): the prompt arrives on stdin, the
// working directory is the workspace, AGENTLINE_SESSION_ID / AGENTLINE_CODEX_HOME /
// AGENTLINE_LAST_MESSAGE_FILE are set, exit code 0 means success, stdout lines that are JSON
// events in the Codex shape are understood and other lines are logged as they are.
type Command struct {
	Args []string
}

// ParseCommand splits an --agent-cmd value into arguments: white space separates, single and
// double quotes group, backslash escapes the next character. No shell is involved.
func ParseCommand(s string) (Command, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inArg = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case unicode.IsSpace(r):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quote != 0 || escaped {
		return Command{}, fmt.Errorf("--agent-cmd %q: unterminated quote or escape", s)
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return Command{}, errors.New("--agent-cmd is empty")
	}
	return Command{Args: args}, nil
}

// Name implements Agent.
func (Command) Name() string { return "command" }

// CanResume implements Agent: the command gets the stored session id in AGENTLINE_SESSION_ID.
func (Command) CanResume() bool { return true }

// Argv implements Agent.
func (c Command) Argv(Spec) []string { return append([]string(nil), c.Args...) }

// Spec is one agent run.
type Spec struct {
	Prompt    string
	Workdir   string
	CodexHome string
	// SessionID resumes this session when set.
	SessionID string
	// Env is the agent's environment (CODEX_HOME and the AGENTLINE_* contract variables are added).
	Env     []string
	Timeout time.Duration
	Grace   time.Duration
	// Log receives the readable log.
	Log io.Writer
	// Raw receives the raw stdout stream (JSON events), one line each.
	Raw io.Writer
	// LastMessageFile is where the agent writes its final message (codex -o).
	LastMessageFile string
	// Redact hides secret values in the log, the raw stream and the results.
	Redact *Redactor
}

// Execution is the outcome of Execute: the transcript of the run and how the process ended.
type Execution struct {
	Transcript Transcript
	Outcome    Outcome
	Argv       []string
}

// Execute runs agent a for s and collects its transcript.
func Execute(ctx context.Context, a Agent, s Spec) (*Execution, error) {
	argv := a.Argv(s)
	env := append([]string(nil), s.Env...)
	env = setEnv(env, "CODEX_HOME", s.CodexHome)
	env = setEnv(env, "AGENTLINE_CODEX_HOME", s.CodexHome)
	env = setEnv(env, "AGENTLINE_SESSION_ID", s.SessionID)
	env = setEnv(env, "AGENTLINE_LAST_MESSAGE_FILE", s.LastMessageFile)
	if s.LastMessageFile != "" {
		_ = os.Remove(s.LastMessageFile)
	}
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	logW := s.Redact.Writer(log)
	defer logW.Close()
	ex := &Execution{Argv: argv, Transcript: Transcript{Log: logW}}
	stderr := s.Redact.Writer(prefixWriter{w: logW, prefix: "[agent stderr] "})
	defer stderr.Close()
	fmt.Fprintf(logW, "[agent-run] running %s in %s (CODEX_HOME=%s)\n", strings.Join(argv, " "), s.Workdir, s.CodexHome)
	out, err := Process{
		Argv: argv, Dir: s.Workdir, Env: env, Stdin: s.Prompt, Timeout: s.Timeout, Grace: s.Grace,
		Stderr: stderr,
		Stdout: func(line string) {
			line = s.Redact.String(line)
			if s.Raw != nil {
				io.WriteString(s.Raw, line+"\n")
			}
			ex.Transcript.Line(line)
		},
	}.Run(ctx)
	ex.Outcome = out
	if err != nil {
		return ex, err
	}
	if ex.Transcript.FinalMessage == "" && s.LastMessageFile != "" {
		if b, err := os.ReadFile(s.LastMessageFile); err == nil {
			ex.Transcript.FinalMessage = strings.TrimSpace(s.Redact.String(string(b)))
		}
	}
	if ex.Transcript.FinalMessage == "" {
		ex.Transcript.FinalMessage = strings.ToValidUTF8(strings.TrimSpace(ex.Transcript.PlainTail), "")
	}
	ex.Transcript.FinalMessage = s.Redact.String(ex.Transcript.FinalMessage)
	return ex, nil
}

// Err is the reason the run failed, nil when it succeeded.
func (e *Execution) Err(timeout time.Duration) error {
	if err := e.Outcome.Err(timeout); err != nil {
		if n := len(e.Transcript.Errors); n > 0 {
			return fmt.Errorf("%w; last agent error: %s", err, e.Transcript.Errors[n-1])
		}
		return err
	}
	if e.Transcript.TurnFailed {
		return fmt.Errorf("the agent's turn failed: %s", strings.Join(e.Transcript.Errors, "; "))
	}
	return nil
}

func setEnv(env []string, k, v string) []string {
	prefix := k + "="
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	if v == "" {
		return out
	}
	return append(out, prefix+v)
}

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// RunDir is a fresh folder for one run's files (raw events, full final message) under
// codexHome/runs.
func RunDir(codexHome string, now time.Time) (string, error) {
	dir := filepath.Join(codexHome, "runs", now.UTC().Format("20060102T150405.000Z"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("run folder: %w", err)
	}
	return dir, nil
}

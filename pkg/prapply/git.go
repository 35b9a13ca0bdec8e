package prapply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/agentline/agentline/pkg/flagenv"
)

// passEnv are the variables of the caller's environment git may see: the binary search path,
// proxies and CA bundles (for GitHub Enterprise behind a proxy or with a private CA).
var passEnv = []string{
	"PATH", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
	"ALL_PROXY", "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
}

// gitRunner runs the git CLI in one work tree with a clean environment: no user or system
// config, no terminal prompts, a fixed identity and locale, and (for commands that talk to the
// remote) the askpass helper.
type gitRunner struct {
	bin   string
	dir   string
	env   []string
	creds *credentials
	// config are -c options given to every command. They neutralise repository config the
	// agent could have written into .git/config: hooks, credential helpers, fsmonitor commands.
	config []string
}

func newGitRunner(bin, dir string, environ []string, home string, id Identity, creds *credentials) *gitRunner {
	if bin == "" {
		bin = "git"
	}
	get := func(k string) (string, bool) { return flagenv.Lookup(environ, k) }
	env := []string{
		"HOME=" + home,
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GCM_INTERACTIVE=never",
		"LC_ALL=C",
		"LANG=C",
		"GIT_AUTHOR_NAME=" + id.Name, "GIT_AUTHOR_EMAIL=" + id.Email,
		"GIT_COMMITTER_NAME=" + id.Name, "GIT_COMMITTER_EMAIL=" + id.Email,
	}
	for _, k := range passEnv {
		if v, ok := get(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return &gitRunner{
		bin: bin, dir: dir, env: env, creds: creds,
		config: []string{
			"-c", "credential.helper=",
			"-c", "core.hooksPath=/dev/null",
			"-c", "core.fsmonitor=false",
			"-c", "core.askPass=",
			"-c", "safe.directory=" + dir,
			"-c", "advice.detachedHead=false",
		},
	}
}

// gitError is a failed git command: the arguments (never holding a secret), exit code and output.
type gitError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := fmt.Sprintf("git %s", strings.Join(e.args, " "))
	if e.code >= 0 {
		msg += fmt.Sprintf(": exit status %d", e.code)
	} else if e.err != nil {
		msg += ": " + e.err.Error()
	}
	if e.stderr != "" {
		msg += ": " + e.stderr
	}
	return msg
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns the exit status of a failed git command (-1 when it did not run).
func exitCode(err error) int {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.code
	}
	return -1
}

// authFailed reports whether git's output says the remote refused the credentials.
func authFailed(err error) bool {
	var ge *gitError
	if !errors.As(err, &ge) {
		return false
	}
	s := strings.ToLower(ge.stderr)
	return strings.Contains(s, "authentication failed") || strings.Contains(s, "could not read username") ||
		strings.Contains(s, "could not read password") || strings.Contains(s, "the requested url returned error: 401") ||
		strings.Contains(s, "the requested url returned error: 403")
}

// run runs git args in the work tree and returns its trimmed standard output.
func (g *gitRunner) run(ctx context.Context, args ...string) (string, error) {
	return g.exec(ctx, g.dir, nil, false, args...)
}

// runInput is run with stdin.
func (g *gitRunner) runInput(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	return g.exec(ctx, g.dir, stdin, false, args...)
}

// remote runs a git command that talks to the remote, with the askpass helper in its
// environment. Callers sanitize the workspace config first (see sanitizeConfig).
func (g *gitRunner) remote(ctx context.Context, args ...string) (string, error) {
	return g.exec(ctx, g.dir, nil, true, args...)
}

// remoteOutside is remote run outside any repository (ls-remote), so no repository config
// applies at all.
func (g *gitRunner) remoteOutside(ctx context.Context, args ...string) (string, error) {
	return g.exec(ctx, g.creds.dir, nil, true, args...)
}

func (g *gitRunner) exec(ctx context.Context, dir string, stdin io.Reader, remote bool, args ...string) (string, error) {
	full := append(append([]string{}, g.config...), args...)
	cmd := exec.CommandContext(ctx, g.bin, full...)
	cmd.Dir = dir
	cmd.Env = g.env
	if remote && g.creds != nil {
		cmd.Env = append(append([]string{}, g.env...), g.creds.env()...)
	}
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	if err == nil {
		return out, nil
	}
	ge := &gitError{args: args, code: -1, stderr: g.redact(withoutHints(stderr.String())), err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ge.code = ee.ExitCode()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		ge.err = ctxErr
	}
	return out, ge
}

// redact removes the token from git output (git never receives it in a URL, but a remote's
// error page might echo it).
func (g *gitRunner) redact(s string) string {
	if g.creds == nil {
		return s
	}
	if tok := g.creds.token(); len(tok) >= 4 {
		s = strings.ReplaceAll(s, tok, "<redacted>")
	}
	return s
}

// withEnv returns a runner with extra environment entries.
func (g *gitRunner) withEnv(extra ...string) *gitRunner {
	c := *g
	c.env = append(append([]string{}, g.env...), extra...)
	return &c
}

// withoutHints drops git's "hint:" lines (advice on interactive use) from its error output.
func withoutHints(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "hint:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

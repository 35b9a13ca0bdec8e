package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/agentline/agentline/pkg/flagenv"
	"github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/stackfile"
)

const usage = `agent-run prepares and runs the coding agent in the slot's workspace and reports what it did.

Usage: agent-run --kind KIND --repo OWNER/NAME (--issue N | --pr N) --workspace DIR --codex-home DIR [flags]

Every flag may also come from AGENTLINE_<FLAG_IN_UPPER_SNAKE> (e.g. AGENTLINE_KIND); an explicit flag
wins. Exceptions: AGENTLINE_MODEL and AGENTLINE_REASONING_EFFORT are the "env" layer of the model
precedence (codex config < env < issue labels [ai-model-X] / [ai-reasoning-Y] < --model /
--reasoning-effort), so they never act as flags.

The GitHub token comes from --github-token-file or GITHUB_TOKEN (never a flag value).

Results (files in --results-dir): session-id, final-message, input-tokens, output-tokens, commands,
changed. The exit status is non-zero when the agent failed or timed out; the reason is printed.

Flags:
`

// Main is agent-run's entry point: it parses args (without the program name), runs the agent and
// returns the exit code. environ is the process environment.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent-run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		o                             Options
		config, vars, varFiles, ns    string
		slot                          int
		agentName, agentCmd, codexBin string
		allowed, ghURL, ghTokenFile   string
		stackEnv                      string
	)
	fs.StringVar(&config, "config", "", "services.yaml of the project (optional: without it, no codex block)")
	fs.StringVar(&stackEnv, "env", "", "environment (ai, ai-staging, ai-repair, dev, ...)")
	fs.IntVar(&slot, "slot", 0, "slot number (0 = none)")
	fs.StringVar(&ns, "namespace", "", "Kubernetes namespace (default: resolved from services.yaml)")
	fs.StringVar(&o.Kind, "kind", "", "prompt kind: plan_issue, plan_review, dev_issue, dev_review, repair_issue, repair_review (old: ai-repair_issue, ai-repair_review)")
	fs.StringVar(&o.Lang, "lang", "", "prompt language en|ru (default codex.promptLang, else en)")
	fs.IntVar(&o.Issue, "issue", 0, "issue number")
	fs.IntVar(&o.PR, "pr", 0, "pull request number")
	fs.IntVar(&o.FocusIssue, "focus-issue", 0, "child issue that was commented on (plan_review)")
	fs.StringVar(&o.Mode, "mode", "full", "prompt mode: full, short (resume the stored session), continuation")
	fs.StringVar(&o.Repo, "repo", "", "repository owner/name")
	fs.StringVar(&o.Workspace, "workspace", "", "source checkout the agent works in")
	fs.StringVar(&o.CodexHomeBase, "codex-home", "", "folder on the workspace volume holding one CODEX_HOME per repository and issue/PR")
	fs.BoolVar(&o.InfraUnhealthy, "infra-unhealthy", false, "the environment's infrastructure failed its health checks")
	fs.StringVar(&o.ResultsDir, "results-dir", "", "write Tekton results here")
	fs.StringVar(&o.Model, "model", "", "model (wins over labels, AGENTLINE_MODEL and codex.model)")
	fs.StringVar(&o.ReasoningEffort, "reasoning-effort", "", "low|medium|high|xhigh (wins over labels, AGENTLINE_REASONING_EFFORT and codex.modelReasoningEffort)")
	fs.StringVar(&o.TemplateFile, "template", "", "prompt template file replacing the kind's built-in template")
	fs.StringVar(&o.Host, "host", "", "environment host (default from baseDomain: dev-<slot>.<baseDomain.ai>)")
	fs.DurationVar(&o.Timeout, "timeout", 0, "bound of the agent run (default codex.timeouts.exec, else 60m)")
	fs.DurationVar(&o.Grace, "grace", DefaultGrace, "time between SIGTERM and SIGKILL when the agent is stopped")
	fs.StringVar(&o.SandboxMode, "sandbox-mode", "", "Codex sandbox_mode (default: the config's, else danger-full-access: the pod is the sandbox)")
	fs.StringVar(&o.ApprovalPolicy, "approval-policy", "", "Codex approval_policy (default: the config's, else never)")
	fs.StringVar(&agentName, "agent", "codex", "agent: codex or command")
	fs.StringVar(&agentCmd, "agent-cmd", "", "command line of --agent command (split on white space, quotes group; no shell)")
	fs.StringVar(&codexBin, "codex-bin", "codex", "Codex CLI executable")
	fs.StringVar(&allowed, "allowed-users", "", "logins whose text may reach the prompt besides users with write permission (comma or space separated, * = everyone)")
	fs.StringVar(&ghURL, "github-url", "", "GitHub REST API base URL (default https://api.github.com/)")
	fs.StringVar(&ghTokenFile, "github-token-file", "", "file holding the GitHub token (default: GITHUB_TOKEN)")
	fs.StringVar(&vars, "vars", "", "inline template variables k=v,k2=v2 for services.yaml")
	fs.StringVar(&varFiles, "var-file", "", "variables files for services.yaml (comma separated)")

	getenv := func(k string) string { v, _ := flagenv.Lookup(environ, k); return v }
	if err := flagenv.Parse(fs, args, environ, "model", "reasoning-effort"); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "agent-run: %v\n", err)
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "agent-run: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.EnvModel, o.EnvEffort = getenv("AGENTLINE_MODEL"), getenv("AGENTLINE_REASONING_EFFORT")
	o.Env, o.Slot, o.Namespace = stackEnv, slot, ns
	o.AllowedUsers = strings.FieldsFunc(allowed, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	o.Environ, o.Log = environ, stdout

	switch agentName {
	case "codex":
		if agentCmd != "" {
			fmt.Fprintln(stderr, "agent-run: --agent-cmd needs --agent command")
			return 2
		}
		o.Agent = Codex{Binary: codexBin}
	case "command":
		c, err := ParseCommand(agentCmd)
		if err != nil {
			fmt.Fprintf(stderr, "agent-run: %v\n", err)
			return 2
		}
		o.Agent = c
	default:
		fmt.Fprintf(stderr, "agent-run: --agent %q: allowed values are codex, command\n", agentName)
		return 2
	}

	if config != "" {
		if stackEnv == "" {
			fmt.Fprintln(stderr, "agent-run: --env (or AGENTLINE_ENV) is required with --config")
			return 2
		}
		lo := stackfile.LoadOptions{Env: stackEnv, Slot: slot, Namespace: ns, Environ: environ}
		if vars != "" {
			v, err := stackfile.ParseVars(vars)
			if err != nil {
				fmt.Fprintf(stderr, "agent-run: --vars: %v\n", err)
				return 2
			}
			lo.Vars = v
		}
		if varFiles != "" {
			lo.VarFiles = strings.Split(varFiles, ",")
		}
		loaded, err := stackfile.Load(config, lo)
		if err != nil {
			fmt.Fprintf(stderr, "agent-run: %v\n", err)
			return 1
		}
		for _, w := range loaded.Warnings {
			fmt.Fprintf(stderr, "agent-run: warning: %s\n", w)
		}
		o.Stack = loaded
	}

	token := getenv("GITHUB_TOKEN")
	if ghTokenFile != "" || token != "" {
		gopts := github.Options{BaseURL: ghURL, TokenFile: ghTokenFile}
		if ghTokenFile == "" {
			gopts.Token = token
		} else if b, err := os.ReadFile(ghTokenFile); err == nil {
			o.Secrets = append(o.Secrets, strings.TrimSpace(string(b)))
		}
		gh, err := github.New(gopts)
		if err != nil {
			fmt.Fprintf(stderr, "agent-run: %v\n", err)
			return 1
		}
		o.GitHub = gh
	} else {
		fmt.Fprintln(stderr, "agent-run: warning: no GitHub token (--github-token-file or GITHUB_TOKEN): the prompt carries no issue or PR context")
	}

	if _, err := Run(ctx, o); err != nil {
		fmt.Fprintf(stderr, "agent-run: %v\n", err)
		return 1
	}
	return 0
}

// SignalContext returns a context cancelled with a SignalCause when the process receives SIGTERM
// or SIGINT, so the running agent's process group gets the same signal.
func SignalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(SignalCause{Signal: s.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

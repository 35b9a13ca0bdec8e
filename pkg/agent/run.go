package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/agent/codexconfig"
	"github.com/agentline/agentline/pkg/agent/prompt"
	"github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/stackfile"
)

// DefaultTimeout bounds a run when neither --timeout nor codex.timeouts.exec says otherwise.
const DefaultTimeout = 60 * time.Minute

// Options configure Run (cmd/agent-run maps its flags onto them).
type Options struct {
	Kind, Lang, Mode string
	Repo             string
	Issue, PR        int
	FocusIssue       int
	// Workspace is the source checkout the agent works in.
	Workspace string
	// CodexHomeBase holds one CODEX_HOME per repository and issue/PR (see CodexHome).
	CodexHomeBase string
	ResultsDir    string
	Env           string
	Namespace     string
	Slot          int
	// Host overrides the host derived from baseDomain.
	Host           string
	InfraUnhealthy bool
	// Model and ReasoningEffort are the flags; EnvModel and EnvEffort the AGENTLINE_* variables.
	Model, ReasoningEffort string
	EnvModel, EnvEffort    string
	// SandboxMode and ApprovalPolicy override the Codex config's (default: danger-full-access and
	// never, the pod being the sandbox).
	SandboxMode, ApprovalPolicy string
	// TemplateFile replaces the kind's prompt template.
	TemplateFile string
	// AllowedUsers may instruct the agent besides users with write permission.
	AllowedUsers []string
	// Timeout overrides codex.timeouts.exec; Grace is the SIGTERM-to-SIGKILL delay.
	Timeout, Grace time.Duration

	// Stack is the loaded services.yaml (nil: no stack file).
	Stack *stackfile.Loaded
	// GitHub reads the issue and PR (nil: no GitHub context; kinds that need it fail).
	GitHub GitHub
	Agent  Agent
	// Environ is agent-run's environment, passed on to the agent.
	Environ []string
	// Secrets are extra values to redact (e.g. the GitHub token read from a file).
	Secrets []string
	Log     io.Writer
	Now     func() time.Time
}

// Run prepares and runs the agent: GitHub context, model choice, prompt, config.toml, the run
// itself, results. Results are written even when the run fails; the error says why it failed.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	kind, err := prompt.ParseKind(o.Kind)
	if err != nil {
		return nil, fmt.Errorf("--kind: %w", err)
	}
	mode, err := prompt.ParseMode(o.Mode)
	if err != nil {
		return nil, fmt.Errorf("--mode: %w", err)
	}
	var cx stackfile.Codex
	if o.Stack != nil {
		cx = o.Stack.Stack.Codex
	}
	langFlag := o.Lang
	if langFlag == "" {
		langFlag = cx.PromptLang
	}
	lang, err := prompt.ParseLang(langFlag)
	if err != nil {
		return nil, fmt.Errorf("--lang / codex.promptLang: %w", err)
	}
	repo, err := github.ParseRepo(o.Repo)
	if err != nil {
		return nil, fmt.Errorf("--repo: %w", err)
	}
	if o.Issue <= 0 && o.PR <= 0 {
		return nil, errors.New("--issue or --pr is required")
	}
	if o.Workspace == "" {
		return nil, errors.New("--workspace is required")
	}
	if o.CodexHomeBase == "" {
		return nil, errors.New("--codex-home is required")
	}
	if o.Agent == nil {
		o.Agent = Codex{}
	}

	d := prompt.Data{Kind: kind, Lang: lang, Mode: mode, Repo: repo.String(), Env: o.Env,
		Namespace: o.Namespace, Slot: o.Slot, InfraUnhealthy: o.InfraUnhealthy,
		ReviewMCPEnabled: cx.ReviewMCPEnabled, ProjectContext: strings.TrimSpace(cx.ProjectContext),
		ServicesOverview: strings.TrimSpace(cx.ServicesOverview), ExtraTools: cx.ExtraTools}
	if o.Stack != nil {
		d.Project = o.Stack.Context.Project
		if d.Namespace == "" {
			d.Namespace = o.Stack.Context.Namespace
		}
		if d.Env == "" {
			d.Env = o.Stack.Context.Env
		}
		if d.Slot == 0 {
			d.Slot = o.Stack.Context.Slot
		}
	}
	d.Host = o.Host
	if d.Host == "" && o.Stack != nil {
		d.Host = hostFor(o.Stack.Context.BaseDomain, d.Env, d.Slot)
	}
	for _, l := range cx.Links {
		d.Links = append(d.Links, prompt.Link{Title: prompt.CleanLine(l.Title, 200, "the title"), URL: prompt.LinkFor(d.Host, l.Path)})
	}
	for _, s := range cx.MCP.Servers {
		ms := prompt.MCPServer{Name: s.Name, Description: strings.TrimSpace(s.Description)}
		for _, t := range s.Tools {
			ms.Tools = append(ms.Tools, prompt.Tool{Name: t.Name, Description: strings.TrimSpace(t.Description)})
		}
		d.MCPServers = append(d.MCPServers, ms)
	}

	// GitHub context.
	var labels []string
	if o.GitHub != nil {
		allow := &Allowlist{Logins: o.AllowedUsers, GitHub: o.GitHub, Repo: repo}
		labels, err = FetchContext(ctx, o.GitHub, Work{Repo: repo, Issue: o.Issue, PR: o.PR, FocusIssue: o.FocusIssue,
			NeedThreads: kind.IsReview()}, allow.Policy(ctx), &d)
		if err != nil {
			return nil, err
		}
		for _, e := range allow.Errors {
			fmt.Fprintf(o.Log, "[agent-run] warning: %v (that user's text is left out)\n", e)
		}
	} else {
		// Without GitHub access the prompt can only name the issue and PR.
		if o.Issue > 0 {
			d.Issue = &prompt.Issue{Number: o.Issue}
		}
		if o.PR > 0 {
			d.PR = &prompt.PullRequest{Number: o.PR}
		}
	}
	d.Branch = branchFor(kind, o.Issue, d.PR)

	choice, err := ChooseModel(ModelInputs{ConfigModel: cx.Model, ConfigEffort: cx.ModelReasoningEffort,
		EnvModel: o.EnvModel, EnvEffort: o.EnvEffort, Labels: labels, FlagModel: o.Model, FlagEffort: o.ReasoningEffort})
	if err != nil {
		return nil, err
	}

	// Session and mode.
	home := CodexHome(o.CodexHomeBase, repo, o.Issue, o.PR)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("codex home: %w", err)
	}
	stored, err := LoadSession(home)
	if err != nil {
		return nil, err
	}
	resume := ""
	if mode == prompt.Short {
		if stored.SessionID != "" && o.Agent.CanResume() {
			resume = stored.SessionID
		} else {
			fmt.Fprintf(o.Log, "[agent-run] short mode asked, but no session is stored in %s: starting a new session with the continuation prompt\n", home)
			d.Mode = prompt.Continuation
		}
	}
	if resume == "" {
		stored = SessionState{}
	}

	renderer := prompt.Renderer{TemplateFile: o.TemplateFile}
	if o.Stack != nil {
		renderer.Funcs = o.Stack.Funcs()
	}
	text, err := renderer.Render(d)
	if err != nil {
		return nil, err
	}

	// Agent config.
	agentEnv := append([]string(nil), o.Environ...)
	secrets := append(secretValues(o.Environ), o.Secrets...)
	if _, isCodex := o.Agent.(Codex); isCodex {
		copts := codexconfig.Options{Codex: cx, Model: choice.Model, ReasoningEffort: choice.Effort,
			SandboxMode: o.SandboxMode, ApprovalPolicy: o.ApprovalPolicy}
		if o.Stack != nil {
			copts.Render = o.Stack.RenderString
			copts.EnvMap, copts.Vars = o.Stack.Context.EnvMap, o.Stack.Context.Vars
			copts.ProjectRoot = o.Stack.Context.ProjectRoot
		}
		cfg, err := codexconfig.Build(copts)
		if err != nil {
			return nil, err
		}
		path, err := cfg.Write(home)
		if err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(cfg.Env) {
			agentEnv = setEnv(agentEnv, k, cfg.Env[k])
			secrets = append(secrets, cfg.Env[k])
		}
		for _, k := range cfg.InlineSecrets {
			fmt.Fprintf(o.Log, "[agent-run] warning: %s had to be written into %s (another MCP server uses the same variable name)\n", k, path)
		}
	}
	agentEnv = setEnv(agentEnv, "AGENTLINE_MODEL", choice.Model)
	agentEnv = setEnv(agentEnv, "AGENTLINE_REASONING_EFFORT", choice.Effort)
	redact := NewRedactor(secrets...)

	runDir, err := RunDir(home, o.Now())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(runDir, "prompt.md"), []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("save prompt: %w", err)
	}
	raw, err := os.OpenFile(filepath.Join(runDir, "events.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("raw event file: %w", err)
	}
	defer raw.Close()

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = cx.Timeouts.Exec.D()
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	fmt.Fprintf(o.Log, "[agent-run] %s, mode %s, language %s, agent %s, model %s (%s), reasoning effort %s (%s), timeout %s\n",
		kind, d.Mode, lang, o.Agent.Name(), orNone(choice.Model), orNone(choice.ModelSource), orNone(choice.Effort), orNone(choice.EffortSource), timeout)
	fmt.Fprintf(o.Log, "[agent-run] prompt: %d bytes, saved in %s; raw events in %s\n", len(text), filepath.Join(runDir, "prompt.md"), raw.Name())
	if resume != "" {
		fmt.Fprintf(o.Log, "[agent-run] resuming session %s\n", resume)
	}

	before, err := TreeState(o.Workspace)
	if err != nil {
		return nil, err
	}
	ex, runErr := Execute(ctx, o.Agent, Spec{
		Prompt: text, Workdir: o.Workspace, CodexHome: home, SessionID: resume, Env: agentEnv,
		Timeout: timeout, Grace: o.Grace, Log: o.Log, Raw: raw,
		LastMessageFile: filepath.Join(runDir, "last-message.txt"), Redact: redact,
	})
	after, treeErr := TreeState(o.Workspace)
	res := &Results{Changed: treeErr == nil && before != after}
	if ex != nil {
		tr := ex.Transcript
		res.SessionID, res.FinalMessage, res.Commands = tr.SessionID, tr.FinalMessage, tr.Commands
		if res.SessionID == "" {
			res.SessionID = resume
		}
		res.InputTokens, res.OutputTokens = tr.Usage.InputTokens, tr.Usage.OutputTokens
		if resume != "" && res.SessionID == stored.SessionID && tr.Usage.InputTokens >= stored.InputTokens {
			res.InputTokens -= stored.InputTokens
			res.OutputTokens = max(tr.Usage.OutputTokens-stored.OutputTokens, 0)
		}
		// Store the session even after a failed or stopped run: the CLI saves sessions as they
		// go, so a later short run can pick up where this one ended.
		if res.SessionID != "" {
			st := SessionState{SessionID: res.SessionID}
			switch {
			case tr.TurnDone:
				st.InputTokens, st.OutputTokens = tr.Usage.InputTokens, tr.Usage.OutputTokens
			case res.SessionID == stored.SessionID:
				st.InputTokens, st.OutputTokens = stored.InputTokens, stored.OutputTokens
			}
			if err := SaveSession(home, st); err != nil {
				fmt.Fprintf(o.Log, "[agent-run] warning: %v\n", err)
			}
		}
		full := filepath.Join(runDir, "final-message.md")
		if err := os.WriteFile(full, []byte(res.FinalMessage), 0o644); err == nil && res.FinalMessage != "" {
			fmt.Fprintf(o.Log, "[agent-run] final message saved in %s\n", full)
		}
	}
	if err := res.Write(o.ResultsDir); err != nil {
		return res, err
	}
	if runErr != nil {
		return res, runErr
	}
	if treeErr != nil {
		fmt.Fprintf(o.Log, "[agent-run] warning: %v\n", treeErr)
	}
	if err := ex.Err(timeout); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Log, "[agent-run] done: session %s, %d commands, %d input / %d output tokens, working tree changed: %v\n",
		res.SessionID, res.Commands, res.InputTokens, res.OutputTokens, res.Changed)
	return res, nil
}

func orNone(s string) string {
	if s == "" {
		return "(default)"
	}
	return s
}

// hostFor is the environment's host: dev-<slot>.<baseDomain.ai> for slots, else baseDomain[env]
// (ai-repair works on staging: baseDomain[ai-staging]).
func hostFor(base map[string]string, env string, slot int) string {
	switch {
	case env == "ai" && slot > 0 && base["ai"] != "":
		return fmt.Sprintf("dev-%d.%s", slot, base["ai"])
	case env == "ai-repair" && base["ai-repair"] == "":
		return base["ai-staging"]
	}
	return base[env]
}

// branchFor is the branch the agent works on.
func branchFor(kind prompt.Kind, issue int, pr *prompt.PullRequest) string {
	switch {
	case pr != nil && (kind == prompt.DevReview || kind == prompt.RepairReview):
		return pr.Head
	case kind == prompt.DevIssue:
		return fmt.Sprintf("codex/issue-%d", issue)
	case kind == prompt.RepairIssue:
		return fmt.Sprintf("codex/ai-repair-%d", issue)
	}
	return ""
}

var secretName = regexp.MustCompile(`(?i)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)`)

// secretValues returns the values of environment variables whose names look secret.
func secretValues(environ []string) []string {
	var out []string
	for _, e := range environ {
		k, v, ok := strings.Cut(e, "=")
		if ok && secretName.MatchString(k) {
			out = append(out, v)
		}
	}
	return out
}

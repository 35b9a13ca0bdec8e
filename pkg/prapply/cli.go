package prapply

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/agentline/agentline/pkg/flagenv"
	"github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/stackfile"
)

const usage = `pr-apply owns git and the pull request of an agent run.

Usage: pr-apply checkout|push|comment|cleanup --repo OWNER/NAME [flags]

  checkout  clone or fetch into the workspace and switch to the work branch (codex/issue-N,
            codex/ai-repair-N, or the pull request's head for --kind review)
  push      commit what the agent changed, push, find or open the draft pull request
  comment   create or update the environment comment on the issue and the pull request
  cleanup   delete the head branch of a closed pull request (agent branches only) and close the
            issue a merged one names

Every flag may also come from AGENTLINE_<FLAG_IN_UPPER_SNAKE> (e.g. AGENTLINE_TOKEN_FILE); an
explicit flag wins. The token is read from --token-file only; it reaches git through an askpass
helper outside the workspace, never through argv, the remote URL or .git/config.

Results (files in --results-dir): branch, commit, pushed, pr-number, pr-url (cleanup: branch, deleted).

Flags:
`

// Main is pr-apply's entry point: args without the program name, environ the process
// environment. It returns the exit code (2 for usage errors).
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprint(stderr, "pr-apply: missing command (checkout, push, comment or cleanup)\n\n"+usage)
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "checkout", "push", "comment", "cleanup":
	default:
		fmt.Fprintf(stderr, "pr-apply: unknown command %q (checkout, push, comment or cleanup)\n", cmd)
		return 2
	}
	c, code := parseFlags(cmd, args[1:], environ, stderr)
	if code >= 0 {
		return code
	}
	c.log = stdout
	if err := c.run(ctx, cmd); err != nil {
		fmt.Fprintf(stderr, "pr-apply %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type cli struct {
	environ                                  []string
	repo, base, workspace, codeRoot, kind    string
	issue, pr, slot                          int
	tokenFile, githubURL, cloneURL, results  string
	sender, summary, summaryFile             string
	gitName, gitEmail, gitBin, branchPrefix  string
	lang, namespace, host, baseDomain, links string
	config, env, commit, branch, sha         string
	log                                      io.Writer
}

func parseFlags(cmd string, args, environ []string, stderr io.Writer) (*cli, int) {
	c := &cli{environ: environ}
	fs := flag.NewFlagSet("pr-apply "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.repo, "repo", "", "repository owner/name")
	fs.IntVar(&c.issue, "issue", 0, "issue number")
	fs.IntVar(&c.pr, "pr", 0, "pull request number (review runs, comment, cleanup)")
	fs.StringVar(&c.base, "base", "", "base branch (default: the pull request's base, else the default branch)")
	fs.StringVar(&c.kind, "kind", "issue", "run kind: issue, review, repair or staging")
	fs.StringVar(&c.sha, "sha", "", "staging: commit to check out (default: the base branch's tip)")
	fs.StringVar(&c.workspace, "workspace", "", "git work tree (default <code-root>/<slot>/src, or <code-root>/ai-staging/src without a slot)")
	fs.StringVar(&c.codeRoot, "code-root", "", "codeRootBase: the folder of all work trees on the workspace volume")
	fs.IntVar(&c.slot, "slot", 0, "slot number (0 = staging)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the GitHub token (a mounted Secret)")
	fs.StringVar(&c.githubURL, "github-url", "", "GitHub REST API base URL (default https://api.github.com/)")
	fs.StringVar(&c.cloneURL, "clone-url", "", "https clone URL (default derived from --github-url)")
	fs.StringVar(&c.results, "results-dir", "", "write Tekton results here")
	fs.StringVar(&c.sender, "sender", "", "user who triggered the run (asked to review the pull request)")
	fs.StringVar(&c.summary, "summary", "", "agent summary (commit message and pull request body)")
	fs.StringVar(&c.summaryFile, "summary-file", "", "file holding the agent summary (e.g. agent-run's final-message result)")
	fs.StringVar(&c.gitName, "git-name", DefaultIdentity.Name, "git author and committer name")
	fs.StringVar(&c.gitEmail, "git-email", DefaultIdentity.Email, "git author and committer email")
	fs.StringVar(&c.gitBin, "git", "git", "git executable")
	fs.StringVar(&c.branchPrefix, "branch-prefix", DefaultBranchPrefix, "prefix of the branches the agent owns")
	fs.StringVar(&c.lang, "lang", "", "comment language en|ru (default codex.promptLang from --config, else en)")
	fs.StringVar(&c.namespace, "namespace", "", "namespace shown in the environment comment (default from --config)")
	fs.StringVar(&c.host, "host", "", "environment host (default dev-<slot>.<base-domain>)")
	fs.StringVar(&c.baseDomain, "base-domain", "", "baseDomain.ai of the stack (default from --config)")
	fs.StringVar(&c.links, "links", "", "links for the environment comment: Title=/path,Other=/path (default codex.links from --config)")
	fs.StringVar(&c.config, "config", "", "services.yaml, for namespace, baseDomain, codex.links and codex.promptLang (comment)")
	fs.StringVar(&c.env, "env", "", "environment for --config (default ai with a slot, else ai-staging)")
	fs.StringVar(&c.commit, "commit", "", "commit shown in the comment (default HEAD of the workspace)")
	fs.StringVar(&c.branch, "branch", "", "branch to clean up (cleanup without --pr) or shown in the comment")

	if err := flagenv.Parse(fs, args, environ); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		fmt.Fprintf(stderr, "pr-apply: %v\n", err)
		return nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pr-apply: unexpected arguments %q\n", fs.Args())
		return nil, 2
	}
	return c, -1
}

func (c *cli) client() (*github.Client, error) {
	if c.tokenFile == "" {
		return nil, errors.New("no token file (--token-file)")
	}
	return github.New(github.Options{BaseURL: c.githubURL, TokenFile: c.tokenFile})
}

func (c *cli) options() (Options, error) {
	repo, err := github.ParseRepo(c.repo)
	if err != nil {
		return Options{}, fmt.Errorf("--repo: %w", err)
	}
	kind, err := ParseKind(c.kind)
	if err != nil {
		return Options{}, fmt.Errorf("--kind: %w", err)
	}
	cloneURL := c.cloneURL
	if cloneURL == "" {
		if cloneURL, err = CloneURLFor(c.githubURL, repo); err != nil {
			return Options{}, fmt.Errorf("--github-url: %w", err)
		}
	}
	summary := c.summary
	if c.summaryFile != "" {
		b, err := os.ReadFile(c.summaryFile)
		switch {
		case err == nil:
			summary = string(b)
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(c.log, "pr-apply: warning: summary file %s does not exist: using the default message\n", c.summaryFile)
		default:
			return Options{}, fmt.Errorf("--summary-file: %w", err)
		}
	}
	o := Options{
		Repo: repo, Kind: kind, Issue: c.issue, PR: c.pr, Base: c.base, SHA: c.sha, Workspace: c.workspace,
		CodeRoot: c.codeRoot, Slot: c.slot, CloneURL: cloneURL, TokenFile: c.tokenFile,
		BranchPrefix: c.branchPrefix, Identity: Identity{Name: c.gitName, Email: c.gitEmail},
		Sender: c.sender, Summary: summary, Git: c.gitBin, Environ: c.environ, Log: c.log,
	}
	if c.tokenFile != "" {
		if o.GitHub, err = c.client(); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

func (c *cli) run(ctx context.Context, cmd string) error {
	switch cmd {
	case "checkout", "push":
		o, err := c.options()
		if err != nil {
			return err
		}
		step := Checkout
		if cmd == "push" {
			step = Push
		}
		res, err := step(ctx, o)
		if err != nil {
			return err
		}
		// checkout writes every result too (pushed=false), so a Task that declares them all is
		// complete even when push does not run.
		files := res.Files()
		fmt.Fprintf(c.log, "pr-apply: %s: branch=%s commit=%s pushed=%t pr=%s\n", cmd, res.Branch, short(res.Commit), res.Pushed, orDash(res.PRURL))
		return WriteResults(c.results, files)
	case "comment":
		return c.comment(ctx)
	default:
		return c.cleanup(ctx)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) cleanup(ctx context.Context) error {
	repo, err := github.ParseRepo(c.repo)
	if err != nil {
		return fmt.Errorf("--repo: %w", err)
	}
	gh, err := c.client()
	if err != nil {
		return err
	}
	res, err := Cleanup(ctx, CleanupOptions{Repo: repo, PR: c.pr, Branch: c.branch, BranchPrefix: c.branchPrefix, GitHub: gh, Log: c.log})
	if err != nil {
		return err
	}
	if res.Refused != "" {
		fmt.Fprintf(c.log, "pr-apply: cleanup refused: %s\n", res.Refused)
	}
	return WriteResults(c.results, map[string]string{ResultBranch: res.Branch, ResultDeleted: strconv.FormatBool(res.Deleted)})
}

func (c *cli) comment(ctx context.Context) error {
	repo, err := github.ParseRepo(c.repo)
	if err != nil {
		return fmt.Errorf("--repo: %w", err)
	}
	env := Environment{Slot: c.slot, Namespace: c.namespace, Host: c.host, Lang: c.lang, Commit: c.commit, Branch: c.branch}
	links, err := ParseLinks(c.links)
	if err != nil {
		return fmt.Errorf("--links: %w", err)
	}
	env.Links = links
	domain := c.baseDomain
	if c.config != "" {
		stackEnv := c.env
		if stackEnv == "" {
			stackEnv = "ai-staging"
			if c.slot > 0 {
				stackEnv = "ai"
			}
		}
		loaded, err := stackfile.Load(c.config, stackfile.LoadOptions{Env: stackEnv, Slot: c.slot, Namespace: c.namespace, Environ: c.environ})
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if env.Namespace == "" {
			env.Namespace = loaded.Context.Namespace
		}
		if env.Lang == "" {
			env.Lang = loaded.Stack.Codex.PromptLang
		}
		if env.Links == nil {
			for _, l := range loaded.Stack.Codex.Links {
				env.Links = append(env.Links, Link{Title: l.Title, Path: l.Path})
			}
		}
		if domain == "" && env.Host == "" {
			if c.slot > 0 {
				domain = loaded.Stack.BaseDomain["ai"]
			} else {
				env.Host = loaded.Stack.BaseDomain[stackEnv]
			}
		}
	}
	if env.Host == "" {
		env.Host = SlotHost(c.slot, domain)
	}
	ws := c.workspace
	if ws == "" && c.codeRoot != "" {
		ws = WorkspacePath(c.codeRoot, c.slot)
	}
	if ws != "" && (env.Commit == "" || env.Branch == "") {
		commit, branch := WorkspaceHead(ctx, c.gitBin, ws, c.environ)
		if env.Commit == "" {
			env.Commit = commit
		}
		if env.Branch == "" {
			env.Branch = branch
		}
	}
	gh, err := c.client()
	if err != nil {
		return err
	}
	done, err := Comment(ctx, gh, repo, CommentTargets{Issue: c.issue, PR: c.pr, Branch: env.Branch}, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.log, "pr-apply: environment comment up to date on %v\n", done)
	return nil
}

// ParseLinks parses "Title=/path,Other=https://x/y" (an entry without "=" is a path).
func ParseLinks(s string) ([]Link, error) {
	var out []Link
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		title, path, ok := strings.Cut(part, "=")
		if !ok {
			title, path = "", part
		}
		path = strings.TrimSpace(path)
		if path == "" {
			return nil, fmt.Errorf("link %q has no path", part)
		}
		out = append(out, Link{Title: strings.TrimSpace(title), Path: path})
	}
	return out, nil
}

// WorkspaceHead returns the commit and branch checked out in workspace ("" when unknown).
func WorkspaceHead(ctx context.Context, gitBin, workspace string, environ []string) (commit, branch string) {
	g := newGitRunner(gitBin, workspace, environ, os.TempDir(), DefaultIdentity, nil)
	commit, _ = g.run(ctx, "rev-parse", "--verify", "--quiet", "HEAD")
	branch, _ = g.run(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	return commit, branch
}

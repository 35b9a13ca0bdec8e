package render

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/flagenv"
	"github.com/agentline/agentline/pkg/github"
	taskresults "github.com/agentline/agentline/pkg/results"
	"github.com/agentline/agentline/pkg/stackfile"
)

// Result file names written to --results-dir (one file each, no trailing newline).
const (
	// ResultNamespace is the resolved namespace.
	ResultNamespace = "namespace"
	// ResultInfraReady is "true" or "false" (apply only): every Deployment, StatefulSet and Job
	// became ready within the wait.
	ResultInfraReady = "infra-ready"
	// ResultObjects is the number of objects rendered (template), applied (apply) or deleted
	// (destroy).
	ResultObjects = "objects"
)

// CLI holds the parsed command line of the render binary.
type CLI struct {
	// Command is template, apply or destroy.
	Command string
	// Config is the stack file path (--config, default services.yaml).
	Config string
	// Env is the environment (--env, required).
	Env string
	// Slot is the slot number (--slot, 0 = none).
	Slot int
	// Namespace overrides namespace resolution (--namespace).
	Namespace string
	// OnlyServices, SkipServices, OnlyInfra and SkipInfra filter items by name.
	OnlyServices, SkipServices, OnlyInfra, SkipInfra []string
	// Vars are the inline --vars.
	Vars map[string]string
	// VarFiles are the --var-file paths (comma-separated in one flag).
	VarFiles []string
	// ShowSecrets prints Secret values (template).
	ShowSecrets bool
	// ResultsDir receives the Tekton results.
	ResultsDir string
	// Kubeconfig overrides the kubeconfig lookup.
	Kubeconfig string
	// Offline makes template use the built-in list of cluster-scoped kinds without trying a cluster.
	Offline bool
	// Prune deletes labelled objects no longer rendered (apply).
	Prune bool
	// WaitTimeout overrides codex.timeouts.deployWait (apply).
	WaitTimeout time.Duration
	// WaitSoftFail turns a wait timeout into infra-ready=false (apply).
	WaitSoftFail bool
	// IncludeClusterScoped lets destroy delete this env's labelled cluster-scoped objects.
	IncludeClusterScoped bool
	// Repo, GitHubURL and GitHubTokenFile configure the GitHub client of github.comment hooks.
	Repo, GitHubURL, GitHubTokenFile string
	// GitHub posts github.comment hook bodies (from the flags above, or set by a caller; nil = not
	// configured).
	GitHub Commenter
}

// githubCommenter posts hook comments on one repository through pkg/github.
type githubCommenter struct {
	client *github.Client
	repo   github.Repo
}

func (g githubCommenter) Comment(ctx context.Context, number int, body string) error {
	_, err := g.client.CreateIssueComment(ctx, g.repo, number, body)
	return err
}

// connectGitHub sets c.GitHub from --repo and --github-token-file when both are given.
func (c *CLI) connectGitHub() error {
	if c.GitHub != nil || c.Repo == "" || c.GitHubTokenFile == "" {
		return nil
	}
	repo, err := github.ParseRepo(c.Repo)
	if err != nil {
		return fmt.Errorf("--repo: %w", err)
	}
	client, err := github.New(github.Options{BaseURL: c.GitHubURL, TokenFile: c.GitHubTokenFile})
	if err != nil {
		return err
	}
	c.GitHub = githubCommenter{client: client, repo: repo}
	return nil
}

const usage = `usage: render template|apply|destroy --config PATH --env ENV [--slot N] [--namespace NS]
       [--only-services a,b] [--skip-services ..] [--only-infra ..] [--skip-infra ..]
       [--vars k=v,..] [--var-file F] [--show-secrets] [--results-dir DIR]
       [--kubeconfig F] [--offline] [--prune] [--wait-timeout D] [--wait-soft-fail]
       [--include-cluster-scoped] [--repo O/R --github-token-file F [--github-url U]]
Every flag may also come from AGENTLINE_<FLAG_IN_UPPER_SNAKE> (e.g. AGENTLINE_ENV); an explicit
flag always wins.`

// ParseCLI parses args (without the program name). getenv supplies AGENTLINE_* defaults for flags
// not given explicitly.
func ParseCLI(args []string, getenv func(string) string) (*CLI, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return nil, fmt.Errorf("missing command (template, apply or destroy)\n%s", usage)
	}
	c := &CLI{Command: args[0]}
	switch c.Command {
	case "template", "apply", "destroy":
	default:
		return nil, fmt.Errorf("unknown command %q (want template, apply or destroy)\n%s", c.Command, usage)
	}
	fs := flag.NewFlagSet("render "+c.Command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var only, skip, onlyInfra, skipInfra, vars, varFiles string
	fs.StringVar(&c.Config, "config", "services.yaml", "stack file")
	fs.StringVar(&c.Env, "env", "", "environment")
	fs.IntVar(&c.Slot, "slot", 0, "slot number")
	fs.StringVar(&c.Namespace, "namespace", "", "namespace override")
	fs.StringVar(&only, "only-services", "", "comma-separated services to keep")
	fs.StringVar(&skip, "skip-services", "", "comma-separated services to drop")
	fs.StringVar(&onlyInfra, "only-infra", "", "comma-separated infrastructure items to keep")
	fs.StringVar(&skipInfra, "skip-infra", "", "comma-separated infrastructure items to drop")
	fs.StringVar(&vars, "vars", "", "inline variables k=v,k2=v2")
	fs.StringVar(&varFiles, "var-file", "", "variable files (YAML map or dotenv), comma-separated")
	fs.BoolVar(&c.ShowSecrets, "show-secrets", false, "print Secret values")
	fs.StringVar(&c.ResultsDir, "results-dir", "", "Tekton results folder")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)")
	fs.BoolVar(&c.Offline, "offline", false, "template: do not ask a cluster which kinds are namespaced")
	fs.BoolVar(&c.Prune, "prune", false, "apply: delete labelled objects that are no longer rendered")
	fs.DurationVar(&c.WaitTimeout, "wait-timeout", 0, "apply: readiness wait (default codex.timeouts.deployWait, else 10m)")
	fs.BoolVar(&c.WaitSoftFail, "wait-soft-fail", false, "apply: a wait timeout gives infra-ready=false instead of failing")
	fs.BoolVar(&c.IncludeClusterScoped, "include-cluster-scoped", false, "destroy: also delete this env's labelled cluster-scoped objects")
	fs.StringVar(&c.Repo, "repo", "", "repository owner/name that github.comment hooks comment on")
	fs.StringVar(&c.GitHubURL, "github-url", "", "GitHub REST API base URL (default https://api.github.com/)")
	fs.StringVar(&c.GitHubTokenFile, "github-token-file", "", "file holding the GitHub token for github.comment hooks")
	if err := flagenv.ParseFunc(fs, args[1:], getenv); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %v\n%s", fs.Args(), usage)
	}
	if strings.TrimSpace(c.Env) == "" {
		return nil, fmt.Errorf("--env is required (or AGENTLINE_ENV)\n%s", usage)
	}
	if c.Slot < 0 {
		return nil, fmt.Errorf("--slot must not be negative")
	}
	c.OnlyServices, c.SkipServices = splitList(only), splitList(skip)
	c.OnlyInfra, c.SkipInfra = splitList(onlyInfra), splitList(skipInfra)
	c.VarFiles = splitList(varFiles)
	var err error
	if c.Vars, err = stackfile.ParseVars(vars); err != nil {
		return nil, err
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Main runs the render binary; it returns the process exit code. Each configure function may
// adjust the parsed command line (e.g. set GitHub) before it runs.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, configure ...func(*CLI) error) int {
	c, err := ParseCLI(args, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 2
	}
	for _, f := range configure {
		if err := f(c); err != nil {
			fmt.Fprintln(stderr, "render:", err)
			return 2
		}
	}
	if err := c.connectGitHub(); err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 2
	}
	if err := c.Run(ctx, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 1
	}
	return 0
}

// Run executes the parsed command.
func (c *CLI) Run(ctx context.Context, stdout, stderr io.Writer) error {
	l, err := stackfile.Load(c.Config, stackfile.LoadOptions{
		Env: c.Env, Slot: c.Slot, Namespace: c.Namespace, Vars: c.Vars, VarFiles: c.VarFiles,
		Environ: os.Environ(),
	})
	if err != nil {
		return err
	}
	for _, w := range l.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	filters := Filters{OnlyServices: c.OnlyServices, SkipServices: c.SkipServices, OnlyInfra: c.OnlyInfra, SkipInfra: c.SkipInfra}

	var cluster *Cluster
	if c.Command != "template" || !c.Offline {
		cluster, err = ConnectCluster(ctx, c.Kubeconfig)
		if err != nil {
			if c.Command != "template" {
				return err
			}
			fmt.Fprintf(stderr, "note: no cluster (%v); using the built-in list of cluster-scoped kinds\n", err)
		}
	}
	opts := Options{Filters: filters}
	if cluster != nil {
		opts.Scope = cluster.Scope()
	}
	res, err := Render(l, opts)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	results := map[string]string{ResultNamespace: l.Context.Namespace}
	switch c.Command {
	case "template":
		if err := WriteYAML(stdout, res.Objects(), c.ShowSecrets); err != nil {
			return err
		}
		results[ResultObjects] = strconv.Itoa(len(res.Objects()))
	case "apply":
		hooks := &HookRunner{Loaded: l, Cluster: cluster, GitHub: c.GitHub, Stdout: stderr, Stderr: stderr, Environ: os.Environ()}
		ar, err := Apply(ctx, cluster, l, res, ApplyOptions{
			Prune: c.Prune, WaitTimeout: c.WaitTimeout, WaitSoftFail: c.WaitSoftFail, Hooks: hooks, Log: stderr,
		})
		if ar != nil {
			results[ResultObjects] = strconv.Itoa(len(ar.Applied))
			results[ResultInfraReady] = strconv.FormatBool(ar.InfraReady)
			if werr := taskresults.Write(c.ResultsDir, results); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	case "destroy":
		hooks := &HookRunner{Loaded: l, Cluster: cluster, GitHub: c.GitHub, Stdout: stderr, Stderr: stderr, Environ: os.Environ()}
		dr, err := Destroy(ctx, cluster, l, res, DestroyOptions{
			IncludeClusterScoped: c.IncludeClusterScoped, Hooks: hooks, Log: stderr, Partial: filters.any(),
		})
		if dr != nil {
			results[ResultObjects] = strconv.Itoa(len(dr.Deleted))
			if werr := taskresults.Write(c.ResultsDir, results); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	}
	return taskresults.Write(c.ResultsDir, results)
}

func (f Filters) any() bool {
	return len(f.OnlyServices)+len(f.SkipServices)+len(f.OnlyInfra)+len(f.SkipInfra) > 0
}

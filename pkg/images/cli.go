package images

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/agentline/agentline/pkg/flagenv"
	"github.com/agentline/agentline/pkg/stackfile"
)

const usage = `usage: kaniko-wrap plan|mirror|build|all [flags]

  plan    print the rendered images plan (JSON; secret-looking build args masked); with
          --results-dir also write BUILDS and MIRRORS (JSON arrays of names)
  mirror  copy the external images into the cluster registry
  build   build the build images with the kaniko executor
  all     mirror, then build

Every flag can also come from AGENTLINE_<FLAG> (e.g. AGENTLINE_ENV, AGENTLINE_INSECURE_REGISTRY,
comma-separated for lists); an explicit flag wins.
`

// listFlag is a repeatable, comma-splitting string flag.
type listFlag struct {
	vals []string
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

type cliOptions struct {
	config, env, namespace, executor, resultsDir, cacheRepo, workDir, vars string
	slot, concurrency                                                      int
	skipExisting, cache                                                    bool
	only, insecure, varFiles                                               listFlag
}

// Main runs kaniko-wrap with args (without the program name) in the environment environ
// (KEY=VALUE entries) and returns the process exit code.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "plan", "mirror", "build", "all":
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "kaniko-wrap: unknown command %q\n%s", cmd, usage)
		return 2
	}
	var o cliOptions
	fs := flag.NewFlagSet("kaniko-wrap "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "services.yaml", "path of services.yaml")
	fs.StringVar(&o.env, "env", "", "environment name (dev, ai-staging, ai, ai-repair, ...)")
	fs.IntVar(&o.slot, "slot", 0, "slot number (0 = none)")
	fs.StringVar(&o.namespace, "namespace", "", "namespace (default: resolved from the stack file)")
	fs.Var(&o.only, "only", "only these images (repeatable, comma-separated)")
	fs.StringVar(&o.executor, "executor", DefaultExecutor, "kaniko executor path")
	fs.Var(&o.insecure, "insecure-registry", "registry host reached over plain HTTP or unverified TLS (repeatable; default: the stack's registry host)")
	fs.BoolVar(&o.skipExisting, "skip-existing", false, "skip a build whose destination tag exists")
	fs.StringVar(&o.resultsDir, "results-dir", "", "write Tekton results here (IMAGES, IMAGE_URL, IMAGE_DIGEST; plan: BUILDS, MIRRORS)")
	fs.BoolVar(&o.cache, "cache", true, "use kaniko's layer cache")
	fs.StringVar(&o.cacheRepo, "cache-repo", "", "cache repository (default <registry>/<project>/cache)")
	fs.IntVar(&o.concurrency, "concurrency", DefaultMirrorConcurrency, "images mirrored at once")
	fs.StringVar(&o.workDir, "work-dir", "", "directory for digest files (default: a temporary one)")
	fs.StringVar(&o.vars, "vars", "", "inline template variables k=v,k2=v2")
	fs.Var(&o.varFiles, "var-file", "variables file (YAML map or dotenv; repeatable)")

	if err := flagenv.Parse(fs, args[1:], environ); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "kaniko-wrap: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kaniko-wrap: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.env == "" {
		fmt.Fprintln(stderr, "kaniko-wrap: --env (or AGENTLINE_ENV) is required")
		return 2
	}
	if err := run(ctx, cmd, &o, environ, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kaniko-wrap %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cmd string, o *cliOptions, environ []string, stdout, stderr io.Writer) error {
	lo := stackfile.LoadOptions{Env: o.env, Slot: o.slot, Namespace: o.namespace, VarFiles: o.varFiles.vals, Environ: environ}
	if o.vars != "" {
		v, err := stackfile.ParseVars(o.vars)
		if err != nil {
			return fmt.Errorf("--vars: %w", err)
		}
		lo.Vars = v
	}
	plan, loaded, err := LoadPlan(o.config, lo)
	if loaded != nil {
		for _, w := range loaded.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	if err != nil {
		return err
	}
	if plan, err = plan.Only(o.only.vals); err != nil {
		return fmt.Errorf("%s: %w", o.config, err)
	}
	if cmd == "plan" {
		b, err := json.MarshalIndent(plan.Masked(), "", "  ")
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
		if o.resultsDir != "" {
			return WritePlanResults(o.resultsDir, plan)
		}
		return nil
	}

	insecure := o.insecure.vals
	if len(insecure) == 0 && plan.Registry != "" {
		insecure = []string{strings.SplitN(plan.Registry, "/", 2)[0]}
	}
	reg := NewRegistries(insecure...)
	var results []Result
	var errs []error
	if cmd == "mirror" || cmd == "all" {
		m := &Mirrorer{Registries: reg, Concurrency: o.concurrency, Log: stdout}
		res, err := m.Run(ctx, plan.Mirrors)
		results = append(results, res...)
		errs = append(errs, err)
	}
	if (cmd == "build" || cmd == "all") && errors.Join(errs...) == nil && len(plan.Builds) > 0 {
		cacheRepo := o.cacheRepo
		if cacheRepo == "" {
			cacheRepo = DefaultCacheRepo(plan.Registry, plan.Project)
		}
		if o.cache && cacheRepo == "" {
			fmt.Fprintln(stderr, "warning: no registry in the stack file and no --cache-repo: building without cache")
		}
		bl := &Builder{
			Executor:     o.executor,
			Registries:   reg,
			Cache:        o.cache,
			CacheRepo:    cacheRepo,
			SkipExisting: o.skipExisting,
			WorkDir:      o.workDir,
			Output:       stdout,
			Log:          stdout,
		}
		res, err := bl.Run(ctx, plan.Builds)
		results = append(results, res...)
		errs = append(errs, err)
	}
	if o.resultsDir != "" {
		errs = append(errs, WriteResults(o.resultsDir, results))
	}
	return errors.Join(errs...)
}

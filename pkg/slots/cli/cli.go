// Package cli is the command line of the slot-lease binary: it reads services.yaml through
// pkg/stackfile, builds a slots.Pool and bootstraps fresh slots through pkg/render.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/agentline/agentline/pkg/flagenv"
	taskresults "github.com/agentline/agentline/pkg/results"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/stackfile"
)

// Result file names written to --results-dir.
const (
	ResultSlot      = "slot"
	ResultNamespace = "namespace"
	ResultNewEnv    = "new-env"
	ResultHost      = "host"
	// ResultHeld is "true" when renew/find/release/link found the key's slot (find: "false"
	// when the key holds none, with slot "0").
	ResultHeld = "held"
)

// Exit codes of Main.
const (
	ExitOK         = 0
	ExitError      = 1
	ExitUsage      = 2
	ExitNoFreeSlot = 3
)

// CLI is the parsed command line.
type CLI struct {
	Command         string
	Config          string
	Project         string
	Env             string
	Key             string
	Repo            string
	Issue           int
	PR              int
	Slot            int
	MaxSlots        int
	TTL             time.Duration
	Wait            time.Duration
	ResultsDir      string
	SystemNamespace string
	Kubeconfig      string
	NoBootstrap     bool
	StateNamespace  string
	StatePrefix     string

	// Kube and RESTConfig, when set, replace the clients built from --kubeconfig (tests).
	Kube       kubernetes.Interface
	RESTConfig *rest.Config
	// Bootstrapper, when set, replaces the render-based bootstrap (tests).
	Bootstrapper slots.Bootstrapper
}

var commands = []string{"acquire", "renew", "find", "release", "link", "status", "gc", "adopt"}

const usage = `usage: slot-lease acquire|renew|find|release|link|status|gc|adopt [flags]
  find is renew that succeeds with slot 0 and held=false when the key holds no slot (cleanup)
  --config PATH            services.yaml (project, maxSlots, namespace patterns, baseDomain.ai,
                           state, environments[env].slotBootstrapInfra)
  --project NAME           project when no --config is given
  --env ENV                pool environment (default ai; ai and ai-repair are separate pools)
  --key owner/repo#N       holder key (acquire, renew, find, release, link)
  --issue N --pr N         issue and PR of the holder (acquire, link)
  --slot N                 renew/release this slot (default: the slot the key holds)
  --ttl D                  lease duration (default 48h)
  --wait D                 acquire: wait up to D for a free slot (default: fail at once)
  --max-slots N            pool size (default services.yaml maxSlots)
  --system-namespace NS    namespace of the Leases (default agentline-system)
  --no-bootstrap           acquire: do not apply slotBootstrapInfra
  --results-dir DIR        Tekton results: slot, namespace, new-env, host, held
  --repo owner/name        adopt: repository of the legacy holders (default: from --key)
  --state-namespace NS --state-prefix P   adopt: override services.yaml state
  --kubeconfig F           default KUBECONFIG, ~/.kube/config or in-cluster
Every flag may also come from AGENTLINE_<FLAG_IN_UPPER_SNAKE> (e.g. AGENTLINE_KEY); an explicit
flag always wins. Exit status: 0 ok, 1 error, 2 usage, 3 no free slot.`

// ParseCLI parses args (without the program name); getenv supplies AGENTLINE_* values for flags
// not given explicitly.
func ParseCLI(args []string, getenv func(string) string) (*CLI, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return nil, fmt.Errorf("missing command (%s)\n%s", strings.Join(commands, ", "), usage)
	}
	c := &CLI{Command: args[0]}
	known := false
	for _, k := range commands {
		known = known || k == c.Command
	}
	if !known {
		return nil, fmt.Errorf("unknown command %q (want %s)\n%s", c.Command, strings.Join(commands, ", "), usage)
	}
	fs := flag.NewFlagSet("slot-lease "+c.Command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Config, "config", "", "services.yaml")
	fs.StringVar(&c.Project, "project", "", "project when no --config is given")
	fs.StringVar(&c.Env, "env", "ai", "pool environment")
	fs.StringVar(&c.Key, "key", "", "holder key owner/repo#N")
	fs.StringVar(&c.Repo, "repo", "", "adopt: repository owner/name")
	fs.IntVar(&c.Issue, "issue", 0, "issue number")
	fs.IntVar(&c.PR, "pr", 0, "PR number")
	fs.IntVar(&c.Slot, "slot", 0, "slot number")
	fs.IntVar(&c.MaxSlots, "max-slots", 0, "pool size")
	fs.DurationVar(&c.TTL, "ttl", slots.DefaultTTL, "lease duration")
	fs.DurationVar(&c.Wait, "wait", 0, "acquire: wait for a free slot")
	fs.StringVar(&c.ResultsDir, "results-dir", "", "Tekton results folder")
	fs.StringVar(&c.SystemNamespace, "system-namespace", slots.DefaultSystemNamespace, "namespace of the Leases")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig")
	fs.BoolVar(&c.NoBootstrap, "no-bootstrap", false, "do not apply slotBootstrapInfra")
	fs.StringVar(&c.StateNamespace, "state-namespace", "", "adopt: legacy ConfigMap namespace")
	fs.StringVar(&c.StatePrefix, "state-prefix", "", "adopt: legacy ConfigMap name prefix")
	if err := flagenv.ParseFunc(fs, args[1:], getenv); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %v\n%s", fs.Args(), usage)
	}
	return c, c.check()
}

func (c *CLI) check() error {
	switch {
	case strings.TrimSpace(c.Env) == "":
		return errors.New("--env must not be empty")
	case c.Config == "" && c.Project == "":
		return errors.New("--config (services.yaml) or --project is required")
	case c.Issue < 0 || c.PR < 0 || c.Slot < 0 || c.MaxSlots < 0:
		return errors.New("--issue, --pr, --slot and --max-slots must not be negative")
	case c.Wait < 0:
		return errors.New("--wait must not be negative")
	}
	switch c.Command {
	case "acquire", "renew", "find", "release":
		if c.Key == "" {
			return fmt.Errorf("%s: --key (owner/repo#N) is required", c.Command)
		}
	case "link":
		if c.PR <= 0 || (c.Key == "" && c.Issue <= 0) {
			return errors.New("link: --pr and one of --key or --issue are required")
		}
	}
	return nil
}

// holder is the key and slot to renew or release: find and release (cleanup after a pull
// request closed) also accept the slot of the issue the PR was linked to; renew is the holder's.
func (c *CLI) holder(ctx context.Context, p *slots.Pool) (string, int) {
	if c.Slot != 0 || c.Command == "renew" {
		return c.Key, c.Slot
	}
	key, slot, err := p.Holder(ctx, slots.Claim{Key: c.Key, Issue: c.Issue, PR: c.PR})
	if err != nil {
		return c.Key, c.Slot // the renew/release names what is missing
	}
	return key, slot
}

// Main runs the binary and returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := ParseCLI(args, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "slot-lease:", err)
		return ExitUsage
	}
	if err := c.Run(ctx, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "slot-lease:", err)
		if errors.Is(err, slots.ErrNoFreeSlot) {
			return ExitNoFreeSlot
		}
		return ExitError
	}
	return ExitOK
}

// setup is what every command needs: the stack file (optional), clients and the pool.
type setup struct {
	loaded *stackfile.Loaded
	pool   *slots.Pool
	host   func(slot int) string
}

func (c *CLI) setup(stderr io.Writer) (*setup, error) {
	s := &setup{host: func(int) string { return "" }}
	project, maxSlots := c.Project, c.MaxSlots
	nsFor := func(n int) (string, error) { return stackfile.DefaultNamespace(project, c.Env, n), nil }
	if c.Config != "" {
		l, err := stackfile.Load(c.Config, stackfile.LoadOptions{Env: c.Env, Environ: os.Environ()})
		if err != nil {
			return nil, err
		}
		for _, w := range l.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		s.loaded = l
		if project == "" {
			project = l.Stack.Project
		}
		if maxSlots == 0 {
			maxSlots = l.Stack.MaxSlots
		}
		nsFor = func(n int) (string, error) { return l.NamespaceFor(c.Env, n) }
		if d := strings.TrimSpace(l.Stack.BaseDomain["ai"]); d != "" {
			s.host = func(n int) string { return fmt.Sprintf("dev-%d.%s", n, d) }
		}
	}
	if maxSlots == 0 {
		return nil, fmt.Errorf("pool size unknown: set maxSlots in %s or pass --max-slots", orDefault(c.Config, "services.yaml"))
	}
	if err := c.connect(); err != nil {
		return nil, err
	}
	cfg := slots.Config{
		Project: project, Env: c.Env, MaxSlots: maxSlots, SystemNamespace: c.SystemNamespace,
		TTL: c.TTL, NamespaceFor: nsFor,
	}
	if c.Command == "acquire" && !c.NoBootstrap {
		cfg.Bootstrapper = c.Bootstrapper
		if cfg.Bootstrapper == nil && s.loaded != nil && len(s.loaded.Environment.SlotBootstrapInfra) > 0 {
			cfg.Bootstrapper = &renderBootstrapper{config: c.Config, env: c.Env, rest: c.RESTConfig, log: stderr}
		}
	}
	pool, err := slots.New(c.Kube, cfg)
	if err != nil {
		return nil, err
	}
	s.pool = pool
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// connect builds the clients from --kubeconfig (else KUBECONFIG, ~/.kube/config, in-cluster).
func (c *CLI) connect() error {
	if c.Kube != nil {
		return nil
	}
	if c.RESTConfig == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if c.Kubeconfig != "" {
			rules.ExplicitPath = c.Kubeconfig
		}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
		c.RESTConfig = cfg
	}
	cfg := rest.CopyConfig(c.RESTConfig)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	c.Kube = kube
	return nil
}

// Run executes the parsed command.
func (c *CLI) Run(ctx context.Context, stdout, stderr io.Writer) error {
	s, err := c.setup(stderr)
	if err != nil {
		return err
	}
	p := s.pool
	switch c.Command {
	case "acquire":
		g, err := p.AcquireWait(ctx, slots.Claim{Key: c.Key, Issue: c.Issue, PR: c.PR}, slots.WaitOptions{Timeout: c.Wait, Progress: stderr})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "slot %d (namespace %s) held by %s until %s; new-env=%t\n", g.Slot, g.Namespace, g.Holder, g.Expires.UTC().Format(time.RFC3339), g.NewEnv)
		return taskresults.Write(c.ResultsDir, map[string]string{
			ResultSlot: strconv.Itoa(g.Slot), ResultNamespace: g.Namespace,
			ResultNewEnv: strconv.FormatBool(g.NewEnv), ResultHost: s.host(g.Slot),
		})
	case "renew", "find", "release", "link":
		var st *slots.SlotStatus
		switch c.Command {
		case "renew", "find":
			key, slot := c.holder(ctx, p)
			st, err = p.Renew(ctx, key, slot)
			if c.Command == "find" && errors.Is(err, slots.ErrNotHeld) {
				// Nothing to clean up is not a failure: slot 0 and held=false say so.
				fmt.Fprintf(stdout, "find: %s holds no slot of %s\n", c.Key, p)
				return taskresults.Write(c.ResultsDir, map[string]string{ResultSlot: "0", ResultNamespace: "", ResultHost: "", ResultHeld: "false"})
			}
		case "release":
			key, slot := c.holder(ctx, p)
			st, err = p.Release(ctx, key, slot)
		default:
			st, err = p.Link(ctx, slots.Claim{Key: c.Key, Issue: c.Issue, PR: c.PR})
		}
		if err != nil {
			return err
		}
		ns, err := p.Config().NamespaceFor(st.Slot)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: slot %d (namespace %s) of %s, holder %s\n", c.Command, st.Slot, ns, p, st.Holder)
		return taskresults.Write(c.ResultsDir, map[string]string{ResultSlot: strconv.Itoa(st.Slot), ResultNamespace: ns, ResultHost: s.host(st.Slot), ResultHeld: "true"})
	case "status":
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		printStatus(stdout, st, time.Now())
		return nil
	case "gc":
		freed, err := p.GC(ctx)
		for _, f := range freed {
			fmt.Fprintf(stdout, "released expired slot %d of %s (holder %s, expired %s)\n", f.Slot, p, f.Holder, f.Expires.UTC().Format(time.RFC3339))
		}
		if err == nil && len(freed) == 0 {
			fmt.Fprintf(stdout, "no expired slot in %s\n", p)
		}
		return err
	case "adopt":
		return c.adopt(ctx, s, stdout)
	}
	return fmt.Errorf("unknown command %q", c.Command)
}

func (c *CLI) adopt(ctx context.Context, s *setup, stdout io.Writer) error {
	o := slots.AdoptOptions{Namespace: c.StateNamespace, Prefix: c.StatePrefix, Repo: c.Repo}
	if s.loaded != nil {
		st := s.loaded.Stack.State
		if b := strings.TrimSpace(st.Backend); b != "" && b != "configmap" && (o.Namespace == "" || o.Prefix == "") {
			return fmt.Errorf("%s: state.backend %q: only configmap can be adopted", c.Config, b)
		}
		if o.Namespace == "" {
			o.Namespace = st.ConfigmapNamespace
		}
		if o.Prefix == "" {
			o.Prefix = st.ConfigmapPrefix
		}
	}
	if o.Repo == "" {
		o.Repo, _, _ = strings.Cut(c.Key, "#")
	}
	rep, err := s.pool.Adopt(ctx, o)
	if rep != nil {
		for _, st := range rep.Imported {
			fmt.Fprintf(stdout, "adopted slot %d of %s for %s\n", st.Slot, s.pool, st.Holder)
		}
		for _, sk := range rep.Skipped {
			fmt.Fprintf(stdout, "skipped %s: %s\n", sk.ConfigMap, sk.Reason)
		}
	}
	return err
}

func printStatus(w io.Writer, st []slots.SlotStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tHOLDER\tISSUE\tPR\tAGE\tEXPIRES")
	num := func(n int) string {
		if n == 0 {
			return "-"
		}
		return strconv.Itoa(n)
	}
	for _, s := range st {
		if !s.Held {
			fmt.Fprintf(tw, "%d\t(free)\t-\t-\t-\t-\n", s.Slot)
			continue
		}
		exp := "in " + s.Expires.Sub(now).Round(time.Second).String()
		if s.Expired {
			exp = "expired " + now.Sub(s.Expires).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.Slot, s.Holder, num(s.Issue), num(s.PR), s.Age(now).Round(time.Second), exp)
	}
	tw.Flush()
}

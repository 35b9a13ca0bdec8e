package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultExecutor is where the kaniko image keeps its executor.
const DefaultExecutor = "/kaniko/executor"

// Builder runs the kaniko executor once per build image, one image after another (several
// builds share one container, so each is followed by --cleanup).
type Builder struct {
	// Executor is the executor's path; DefaultExecutor when empty.
	Executor string
	// Wrapper is an argv prefix the executor is run under (tests run it in a chroot with it:
	// the executor path is then resolved by the wrapper).
	Wrapper []string
	// Registries scopes insecure access: the executor gets --insecure-registry and
	// --skip-tls-verify-registry for exactly these hosts.
	Registries *Registries
	// Cache turns on kaniko's layer cache in CacheRepo.
	Cache bool
	// CacheRepo is the cache repository; "<registry>/<project>/cache" via DefaultCacheRepo.
	CacheRepo string
	// SkipExisting skips a build whose destination tag already exists.
	SkipExisting bool
	// WorkDir receives digest files and rewritten Dockerfiles; when empty, a temporary directory
	// beside the executor (/kaniko, which kaniko never deletes), else in os.TempDir().
	WorkDir string
	// ExtraArgs are appended to every executor argv (for example --force outside a container).
	ExtraArgs []string
	// Env is the executor's base environment; os.Environ() when nil. Secret-looking build args are
	// added to it (see Args).
	Env []string
	// Output receives the executor's output, line by line, prefixed with "[name] ".
	Output io.Writer
	// Log receives kaniko-wrap's own lines (commands run, skips).
	Log io.Writer
}

// DefaultCacheRepo returns "<registry>/<project>/cache", or "" without a registry.
func DefaultCacheRepo(registry, project string) string {
	registry = strings.TrimSuffix(strings.TrimSpace(registry), "/")
	if registry == "" || project == "" {
		return ""
	}
	return registry + "/" + project + "/cache"
}

// Args returns the executor's argv (without the executor itself) for b, and the environment
// entries it needs. several says whether more than one image is built in this container.
// Secret-looking build args go into the environment and appear in argv as a bare
// `--build-arg=NAME`, which kaniko resolves from its environment.
func (bl *Builder) Args(b Build, digestFile string, several bool) (args, env []string) {
	args = []string{
		"--context=dir://" + b.Context,
		"--dockerfile=" + b.Dockerfile,
		"--destination=" + b.Destination,
	}
	for _, a := range sortedArgs(b.BuildArgs) {
		if IsSecretName(a.Name) {
			args = append(args, "--build-arg="+a.Name)
			env = append(env, a.Name+"="+a.Value)
			continue
		}
		args = append(args, "--build-arg="+a.Name+"="+a.Value)
	}
	ctxs := append([]BuildContext(nil), b.BuildContexts...)
	sort.Slice(ctxs, func(i, j int) bool { return ctxs[i].Name < ctxs[j].Name })
	for _, c := range ctxs {
		args = append(args, "--build-context="+c.Name+"=dir://"+c.Path)
	}
	args = append(args, "--digest-file="+digestFile)
	if bl.Cache && bl.CacheRepo != "" {
		args = append(args, "--cache=true", "--cache-repo="+bl.CacheRepo)
	}
	if several {
		args = append(args, "--cleanup")
	}
	for _, h := range bl.Registries.InsecureHosts() {
		args = append(args, "--insecure-registry="+h, "--skip-tls-verify-registry="+h)
	}
	args = append(args, bl.ExtraArgs...)
	return args, env
}

func sortedArgs(in []BuildArg) []BuildArg {
	out := append([]BuildArg(nil), in...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// fileName turns an image name into a safe file name.
func fileName(image string) string { return unsafeFileChars.ReplaceAllString(image, "_") }

var buildArgFlag = regexp.MustCompile(`^(--build-arg=?)([^=]*)=(.*)$`)

// MaskArgs returns argv with the values of secret-looking `--build-arg=NAME=VALUE` replaced by
// "***", for printing.
func MaskArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if m := buildArgFlag.FindStringSubmatch(a); m != nil && IsSecretName(m[2]) {
			a = m[1] + m[2] + "=" + mask
		}
		out[i] = a
	}
	return out
}

// Run builds every image in order and stops at the first failure. Results come back for the
// images built or skipped before it.
func (bl *Builder) Run(ctx context.Context, builds []Build) ([]Result, error) {
	log := bl.Log
	if log == nil {
		log = io.Discard
	}
	executor := bl.Executor
	if executor == "" {
		executor = DefaultExecutor
	}
	work := bl.WorkDir
	if work == "" {
		// kaniko deletes the container's filesystem between stages and with --cleanup, except its
		// own directory and mount points: keep digest files next to the executor when possible.
		parent := ""
		if len(bl.Wrapper) == 0 {
			parent = filepath.Dir(executor)
		}
		d, err := os.MkdirTemp(parent, "kaniko-wrap-")
		if err != nil && parent != "" {
			d, err = os.MkdirTemp("", "kaniko-wrap-")
		}
		if err != nil {
			return nil, fmt.Errorf("build: work dir: %w", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("build: work dir %s: %w", work, err)
	}
	if len(bl.Wrapper) == 0 {
		if _, err := exec.LookPath(executor); err != nil {
			return nil, fmt.Errorf("build: kaniko executor %s: %w (set --executor)", executor, err)
		}
	}
	native, err := bl.nativeBuildContexts(ctx, executor, builds)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, b := range builds {
		if bl.SkipExisting {
			digest, ok, err := bl.existing(ctx, b.Destination)
			if err != nil {
				return results, fmt.Errorf("build %s: check %s: %w", b.Name, b.Destination, err)
			}
			if ok {
				fmt.Fprintf(log, "build %s: skipped, %s exists (%s)\n", b.Name, b.Destination, digest)
				results = append(results, Result{Name: b.Name, Ref: b.Destination, Digest: digest, Action: ActionSkipped})
				continue
			}
		}
		if len(b.BuildContexts) > 0 && !native {
			if b, err = bl.emulateBuildContexts(ctx, work, b); err != nil {
				return results, fmt.Errorf("build %s: %w", b.Name, err)
			}
		}
		res, err := bl.buildOne(ctx, executor, work, b, len(builds) > 1)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

func (bl *Builder) buildOne(ctx context.Context, executor, work string, b Build, several bool) (Result, error) {
	digestFile := filepath.Join(work, fileName(b.Name)+".digest")
	if err := os.Remove(digestFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("build %s: %w", b.Name, err)
	}
	args, secretEnv := bl.Args(b, digestFile, several)
	argv := append(append(append([]string{}, bl.Wrapper...), executor), args...)
	fmt.Fprintf(bl.logW(), "build %s: %s\n", b.Name, strings.Join(MaskArgs(argv), " "))

	var secrets []string
	for _, e := range secretEnv {
		if _, v, _ := strings.Cut(e, "="); v != "" {
			secrets = append(secrets, v)
		}
	}
	out := bl.Output
	if out == nil {
		out = io.Discard
	}
	lw := newLineWriter(out, "["+b.Name+"] ", secrets)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(bl.baseEnv(), secretEnv...)
	cmd.Stdout = lw
	cmd.Stderr = lw
	err := cmd.Run()
	lw.Flush()
	if err != nil {
		return Result{}, fmt.Errorf("build %s: kaniko executor failed: %w", b.Name, err)
	}
	raw, err := os.ReadFile(digestFile)
	if err != nil {
		return Result{}, fmt.Errorf("build %s: executor wrote no digest file: %w", b.Name, err)
	}
	digest := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(digest, "sha256:") {
		return Result{}, fmt.Errorf("build %s: digest file %s holds %q, not a sha256 digest", b.Name, digestFile, digest)
	}
	return Result{Name: b.Name, Ref: b.Destination, Digest: digest, Action: ActionBuilt}, nil
}

func (bl *Builder) baseEnv() []string {
	if bl.Env == nil {
		return os.Environ()
	}
	return append([]string{}, bl.Env...)
}

func (bl *Builder) logW() io.Writer {
	if bl.Log == nil {
		return io.Discard
	}
	return bl.Log
}

// existing reports the digest of ref when the tag exists.
func (bl *Builder) existing(ctx context.Context, ref string) (string, bool, error) {
	reg := bl.Registries
	if reg == nil {
		reg = NewRegistries()
	}
	r, err := reg.ParseReference(ref)
	if err != nil {
		return "", false, err
	}
	d, err := remote.Head(r, reg.remoteOptions(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", false, registryError(err)
	}
	return d.Digest.String(), true, nil
}

// nativeBuildContexts reports whether the executor has a --build-context flag; it is only asked
// when a build has named build contexts. kaniko v1.25.5 has none: see emulateBuildContexts.
func (bl *Builder) nativeBuildContexts(ctx context.Context, executor string, builds []Build) (bool, error) {
	need := false
	for _, b := range builds {
		need = need || len(b.BuildContexts) > 0
	}
	if !need {
		return false, nil
	}
	argv := append(append(append([]string{}, bl.Wrapper...), executor), "--help")
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.Env = bl.baseEnv()
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("build: %s --help: %w: %s", executor, err, strings.TrimSpace(buf.String()))
	}
	return strings.Contains(buf.String(), "--build-context"), nil
}

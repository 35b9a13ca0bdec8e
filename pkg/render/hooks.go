package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/agentline/agentline/pkg/stackfile"
)

// Commenter posts a comment on an issue or pull request of the run's repository. The binary
// wires it to pkg/github; hooks using github.com fail when it is nil.
type Commenter interface {
	// Comment posts body on issue or pull request number.
	Comment(ctx context.Context, number int, body string) error
}

// DefaultHookTimeout bounds a hook step without its own timeout.
const DefaultHookTimeout = 10 * time.Minute

// HookRunner runs hook steps. A nil *HookRunner runs nothing.
type HookRunner struct {
	// Loaded supplies the template context (namespace, slot, EnvMap).
	Loaded *stackfile.Loaded
	// Cluster is used by the builtins; nil makes cluster builtins fail.
	Cluster *Cluster
	// GitHub posts github.comment bodies.
	GitHub Commenter
	// Stdout and Stderr receive the scripts' output and the runner's log lines.
	Stdout, Stderr io.Writer
	// Environ is the scripts' base environment (nil = os.Environ()); NAMESPACE, SLOT, ENV and
	// PROJECT are added.
	Environ []string
	// Shell runs `run` scripts; default "bash".
	Shell string
	// DefaultTimeout bounds steps without a timeout; 0 means DefaultHookTimeout.
	DefaultTimeout time.Duration

	// applied records the objects builtins applied, so that prune keeps them.
	applied []ObjectRef
}

// Applied returns the objects the builtins applied so far.
func (h *HookRunner) Applied() []ObjectRef {
	if h == nil {
		return nil
	}
	return slices.Clone(h.applied)
}

// Check verifies, before anything is applied, that every hook step of the items and the global
// hooks names a known builtin.
func (h *HookRunner) Check(items []Item) error {
	if h == nil || h.Loaded == nil {
		return nil
	}
	check := func(where string, steps []stackfile.HookStep) error {
		for i, s := range steps {
			if s.Use != "" && !slices.Contains(stackfile.Builtins, s.Use) {
				return fmt.Errorf("hook %s[%d] %q: unknown builtin %q", where, i, s.Name, s.Use)
			}
		}
		return nil
	}
	g := h.Loaded.Stack.Hooks
	errs := []error{check("hooks.beforeAll", g.BeforeAll), check("hooks.afterAll", g.AfterAll)}
	for _, it := range items {
		p := fmt.Sprintf("%s %s ", it.Kind, it.Name)
		errs = append(errs, check(p+"beforeApply", it.Hooks.BeforeApply), check(p+"afterApply", it.Hooks.AfterApply),
			check(p+"beforeDestroy", it.Hooks.BeforeDestroy), check(p+"afterDestroy", it.Hooks.AfterDestroy))
	}
	return errors.Join(errs...)
}

// RunGlobal runs the beforeAll or afterAll steps.
func (h *HookRunner) RunGlobal(ctx context.Context, phase string, steps []stackfile.HookStep) error {
	if h == nil {
		return nil
	}
	return h.run(ctx, "hooks."+phase, steps)
}

// RunItem runs one phase (beforeApply, afterApply, beforeDestroy, afterDestroy) of an item.
func (h *HookRunner) RunItem(ctx context.Context, it Item, phase string, steps []stackfile.HookStep) error {
	if h == nil {
		return nil
	}
	return h.run(ctx, fmt.Sprintf("%s %s %s", it.Kind, it.Name, phase), steps)
}

func (h *HookRunner) logf(format string, a ...any) {
	if h.Stderr != nil {
		fmt.Fprintf(h.Stderr, format+"\n", a...)
	}
}

func (h *HookRunner) run(ctx context.Context, where string, steps []stackfile.HookStep) error {
	for i, s := range steps {
		name := s.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		label := fmt.Sprintf("hook %s[%s]", where, name)
		ok, err := h.Loaded.When(label+" when", s.When)
		if err != nil {
			return err
		}
		if !ok {
			h.logf("%s: skipped (when is false)", label)
			continue
		}
		h.logf("%s: running", label)
		if err := h.step(ctx, label, s); err != nil {
			if s.ContinueOnError {
				h.logf("warning: %s failed (continueOnError): %v", label, err)
				continue
			}
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	return nil
}

func (h *HookRunner) step(ctx context.Context, label string, s stackfile.HookStep) error {
	timeout := s.Timeout.D()
	if timeout <= 0 && s.Use == stackfile.BuiltinKubectlWait {
		// the builtin has its own timeout argument (default 1200s); let it report first
		d, err := h.withDuration(label, s, "timeout", 1200*time.Second)
		if err != nil {
			return err
		}
		timeout = d + 30*time.Second
	}
	if timeout <= 0 {
		timeout = h.DefaultTimeout
	}
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	if s.Run != "" {
		var script string
		script, err = h.Loaded.RenderString(label+" run", s.Run)
		if err == nil {
			err = h.script(ctx, script)
		}
	} else {
		err = h.builtin(ctx, label, s)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return err
}

// script runs a `run` script with bash from a private temporary file (not argv), in the project
// root, in its own process group so a timeout kills its children too.
func (h *HookRunner) script(ctx context.Context, script string) error {
	f, err := os.CreateTemp("", "agentline-hook-*.sh")
	if err != nil {
		return fmt.Errorf("hook script: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		f.Close()
		return fmt.Errorf("hook script: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hook script: %w", err)
	}
	shell := h.Shell
	if shell == "" {
		shell = "bash"
	}
	cmd := exec.CommandContext(ctx, shell, f.Name())
	cmd.Dir = h.Loaded.Context.ProjectRoot
	env := h.Environ
	if env == nil {
		env = os.Environ()
	}
	c := h.Loaded.Context
	cmd.Env = append(slices.Clip(env),
		"NAMESPACE="+c.Namespace, "SLOT="+strconv.Itoa(c.Slot), "ENV="+c.Env, "PROJECT="+c.Project)
	cmd.Stdout, cmd.Stderr = orDiscard(h.Stdout), orDiscard(h.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("script: %w", err)
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

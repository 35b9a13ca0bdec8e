package stackfile

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Context is the template context. Its field names are part of the contract: templates use
// .Env, .Namespace, .Project, .ProjectRoot, .Slot, .Now, .UserVars, .Vars, .EnvMap, .Versions,
// .BaseDomain, .Codex and .Storage.
type Context struct {
	// Env is the environment name (dev, ai-staging, ai, ai-repair, ...).
	Env string
	// Namespace is the resolved target namespace.
	Namespace string
	// Project is the stack's project name.
	Project string
	// ProjectRoot is the absolute directory of services.yaml.
	ProjectRoot string
	// Slot is the slot number, 0 when none.
	Slot int
	// Now is the load time in UTC.
	Now time.Time
	// UserVars are the inline --vars only.
	UserVars map[string]string
	// Vars are the --var-file values overridden by inline --vars.
	Vars map[string]string
	// EnvMap is the process environment < envFiles < var-files < inline vars.
	EnvMap map[string]string
	// Versions is the rendered `versions` map (the raw header map while the file itself renders).
	Versions map[string]string
	// BaseDomain is the rendered `baseDomain` map (raw header map while the file renders).
	BaseDomain map[string]string
	// Codex is the rendered `codex` block (zero while the file itself renders).
	Codex Codex
	// Storage is the rendered `storage` block (zero while the file itself renders).
	Storage Storage
}

// LoadOptions select the environment and supply variables.
type LoadOptions struct {
	// Env is the environment name; required.
	Env string
	// Slot is the slot number (0 = none).
	Slot int
	// Namespace, when set, overrides namespace resolution.
	Namespace string
	// Vars are inline variables (--vars k=v,...); they win over everything.
	Vars map[string]string
	// VarFiles are --var-file paths (YAML map or dotenv), later files win.
	VarFiles []string
	// Environ is the process environment as KEY=VALUE entries. nil means os.Environ(); pass an
	// empty non-nil slice for an empty environment.
	Environ []string
	// Now is the time templates see; zero means time.Now(). Always converted to UTC.
	Now time.Time
}

// Warning is a non-fatal finding, such as an unknown key.
type Warning struct {
	// File is the stack file path.
	File string
	// Line is the line in the rendered file (0 when unknown).
	Line int
	// Key is the key path, e.g. services[0].overlays.ai.pvcMount.
	Key string
	// Message describes the finding.
	Message string
}

// String formats the warning as "file:line: key: message".
func (w Warning) String() string {
	loc := w.File
	if w.Line > 0 {
		loc = fmt.Sprintf("%s:%d", w.File, w.Line)
	}
	if w.Key == "" {
		return fmt.Sprintf("%s: %s", loc, w.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, w.Key, w.Message)
}

// Loaded is a loaded and rendered stack file.
type Loaded struct {
	// Path is the absolute path of services.yaml.
	Path string
	// Stack is the rendered model.
	Stack *Stack
	// Context is the template context (with Versions, BaseDomain, Codex and Storage taken from
	// the rendered model).
	Context *Context
	// Environment is the selected environment's settings with `from` inheritance applied.
	Environment Environment
	// Warnings lists unknown keys and other non-fatal findings.
	Warnings []Warning

	// rawPatterns are the unrendered namespace.patterns from the header.
	rawPatterns map[string]string
}

// Funcs returns the template functions bound to l's context.
func (l *Loaded) Funcs() template.FuncMap { return Funcs(l.Context) }

// RenderString renders text as a template with the stack's functions and context; name appears in
// error messages (use the file or key the text came from).
func (l *Loaded) RenderString(name, text string) (string, error) {
	return renderWith(l.Context, name, text)
}

// RenderStringWith renders text like RenderString with a modified copy of the context (e.g. a
// different Slot or Namespace); mutate receives the copy.
func (l *Loaded) RenderStringWith(name, text string, mutate func(*Context)) (string, error) {
	c := *l.Context
	if mutate != nil {
		mutate(&c)
	}
	return renderWith(&c, name, text)
}

// When renders a `when` expression and interprets it with IsTrue.
func (l *Loaded) When(name, expr string) (bool, error) {
	if strings.TrimSpace(expr) == "" {
		return true, nil
	}
	s, err := l.RenderString(name, expr)
	if err != nil {
		return false, err
	}
	return IsTrue(s), nil
}

// IsTrue interprets a rendered `when` value: empty means true; false, 0 and no (any case, white
// space trimmed) mean false; anything else is true.
func IsTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "false", "0", "no":
		return false
	}
	return true
}

// NamespaceFor resolves the namespace of env and slot the way Load does without an explicit
// namespace: the rendered namespace.patterns[env], else the built-in defaults.
func (l *Loaded) NamespaceFor(env string, slot int) (string, error) {
	c := *l.Context
	c.Env, c.Slot, c.Namespace = env, slot, ""
	return resolveNamespace(&c, l.rawPatterns, l.Path)
}

// SlotNamespace is the namespace of slot in the `ai` environment.
func (l *Loaded) SlotNamespace(slot int) (string, error) { return l.NamespaceFor("ai", slot) }

func newTemplate(ctx *Context, name, text string) (*template.Template, error) {
	return template.New(name).Funcs(Funcs(ctx)).Parse(text)
}

func renderWith(ctx *Context, name, text string) (string, error) {
	t, err := newTemplate(ctx, name, text)
	if err != nil {
		return "", fmt.Errorf("parse template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&limitWriter{w: &buf, n: maxRendered}, ctx); err != nil {
		return "", fmt.Errorf("render template %s: %w", name, err)
	}
	return buf.String(), nil
}

// MaxRenderedSize bounds the output of one template (a runaway range must not eat the memory).
const MaxRenderedSize = 64 << 20

// maxRendered is MaxRenderedSize; tests lower it.
var maxRendered = MaxRenderedSize

// limitWriter fails once more than n bytes were written.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("rendered output exceeds %d bytes", l.n)
	}
	return l.w.Write(p)
}

// DefaultNamespace is the namespace rule when no pattern applies: env `ai` with slot > 0 ->
// <project>-dev-<slot>; `ai-repair` -> <project>-ai-staging; any other env -> <project>-<env>.
func DefaultNamespace(project, env string, slot int) string {
	switch {
	case env == "ai" && slot > 0:
		return fmt.Sprintf("%s-dev-%d", project, slot)
	case env == "ai-repair":
		return project + "-ai-staging"
	}
	return project + "-" + env
}

func resolveNamespace(ctx *Context, patterns map[string]string, file string) (string, error) {
	if p := patterns[ctx.Env]; strings.TrimSpace(p) != "" {
		ns, err := renderWith(ctx, file+": namespace.patterns."+ctx.Env, p)
		if err != nil {
			return "", err
		}
		if ns = strings.TrimSpace(ns); ns != "" {
			return ns, nil
		}
	}
	return DefaultNamespace(ctx.Project, ctx.Env, ctx.Slot), nil
}

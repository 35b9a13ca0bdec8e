package stackfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/joho/godotenv"
	"gopkg.in/yaml.v3"
)

// header is the part of services.yaml read before templating (spec 1.1).
type header struct {
	Project    string            `yaml:"project"`
	EnvFiles   []string          `yaml:"envFiles"`
	Versions   map[string]string `yaml:"versions"`
	BaseDomain map[string]string `yaml:"baseDomain"`
	Namespace  struct {
		Patterns map[string]string `yaml:"patterns"`
	} `yaml:"namespace"`
}

// Load reads, templates and decodes the stack file at path (spec section 1).
func Load(path string, opts LoadOptions) (*Loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("stack file %s: %w", path, err)
	}
	return LoadBytes(abs, data, opts)
}

// LoadBytes is Load for data already read; path names the file in messages and its directory is
// the project root (envFiles and manifests are relative to it).
func LoadBytes(path string, data []byte, opts LoadOptions) (*Loaded, error) {
	if strings.TrimSpace(opts.Env) == "" {
		return nil, fmt.Errorf("%s: no environment given", path)
	}
	name := filepath.Base(path)

	// 1. header pre-parse: the file must be valid YAML before templating.
	var raw yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not valid YAML before templating: %w", path, err)
	}
	rawLines := keyLines(&raw)
	var h header
	if raw.Kind != 0 {
		if err := raw.Decode(&h); err != nil {
			return nil, decodeError(path, "header", err, rawLines)
		}
	}
	var warnings []Warning

	// 2. variable maps.
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	envMap := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			envMap[k] = v
		}
	}
	root := filepath.Dir(path)
	for i, f := range h.EnvFiles {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		m, err := godotenv.Read(p)
		if errors.Is(err, os.ErrNotExist) {
			warnings = append(warnings, Warning{File: path, Line: rawLines.find("envFiles"), Key: fmt.Sprintf("envFiles[%d]", i), Message: fmt.Sprintf("env file %s does not exist; skipped", p)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: envFiles[%d] %s: %w", path, i, p, err)
		}
		for k, v := range m {
			envMap[k] = v
		}
	}
	vars := map[string]string{}
	for _, f := range opts.VarFiles {
		m, err := readVarFile(f)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			vars[k] = v
			envMap[k] = v
		}
	}
	userVars := map[string]string{}
	for k, v := range opts.Vars {
		userVars[k] = v
		vars[k] = v
		envMap[k] = v
	}

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	ctx := &Context{
		Env:         opts.Env,
		Project:     h.Project,
		ProjectRoot: root,
		Slot:        opts.Slot,
		Now:         now.UTC(),
		UserVars:    userVars,
		Vars:        vars,
		EnvMap:      envMap,
		Versions:    nonNil(h.Versions),
		BaseDomain:  nonNil(h.BaseDomain),
	}

	// 4. namespace.
	if ns := strings.TrimSpace(opts.Namespace); ns != "" {
		ctx.Namespace = ns
	} else {
		ns, err := resolveNamespace(ctx, h.Namespace.Patterns, path)
		if err != nil {
			return nil, templateError(path, err, rawLines)
		}
		ctx.Namespace = ns
	}

	// 5. whole-file templating, then the full model.
	tmpl, err := template.New(name).Funcs(Funcs(ctx)).Parse(string(data))
	if err != nil {
		return nil, templateError(path, err, rawLines)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&limitWriter{w: &buf, n: maxRendered}, ctx); err != nil {
		return nil, templateError(path, err, rawLines)
	}
	var rendered yaml.Node
	if err := yaml.Unmarshal(buf.Bytes(), &rendered); err != nil {
		return nil, fmt.Errorf("%s: rendered file is not valid YAML: %w", path, err)
	}
	renderedLines := keyLines(&rendered)
	st := &Stack{}
	if rendered.Kind != 0 {
		if err := rendered.Decode(st); err != nil {
			return nil, decodeError(path+" (rendered)", "", err, renderedLines)
		}
		warnings = append(warnings, unknownKeys(path, &rendered)...)
	}
	// Header values hidden by template whitespace trimming (a `-}}` at the end of a comment line
	// can glue the next line onto the comment) fall back to the pre-parsed header.
	if st.Project == "" {
		st.Project = h.Project
	}
	if st.EnvFiles == nil {
		st.EnvFiles = h.EnvFiles
	}
	if st.Project == "" {
		return nil, fmt.Errorf("%s: project: required", path)
	}
	if err := validate(st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	envSettings, err := st.ResolveEnvironment(opts.Env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}

	// 6. the context takes the rendered values.
	ctx.Versions = nonNil(st.Versions)
	ctx.BaseDomain = nonNil(st.BaseDomain)
	ctx.Codex = st.Codex
	ctx.Storage = st.Storage

	return &Loaded{
		Path:        path,
		Stack:       st,
		Context:     ctx,
		Environment: envSettings,
		Warnings:    warnings,
		rawPatterns: h.Namespace.Patterns,
	}, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// readVarFile reads a --var-file: a YAML map, else dotenv.
func readVarFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("var-file: %w", err)
	}
	var ym map[string]any
	if yerr := yaml.Unmarshal(data, &ym); yerr == nil && ym != nil {
		out := make(map[string]string, len(ym))
		for k, v := range ym {
			switch v := v.(type) {
			case nil:
				out[k] = ""
			case string:
				out[k] = v
			case map[string]any, []any:
				return nil, fmt.Errorf("var-file %s: key %s: want a scalar value", path, k)
			default:
				out[k] = fmt.Sprint(v)
			}
		}
		return out, nil
	}
	m, err := godotenv.Unmarshal(string(data))
	if err != nil {
		return nil, fmt.Errorf("var-file %s: neither a YAML map nor a dotenv file: %w", path, err)
	}
	return m, nil
}

// ParseVars parses inline vars "k=v,k2=v2" (empty entries are ignored).
func ParseVars(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--vars: %q is not KEY=VALUE", part)
		}
		out[k] = v
	}
	return out, nil
}

var (
	tmplLineRE = regexp.MustCompile(`template: [^:]*:(\d+)(?::(\d+))?:`)
	yamlLineRE = regexp.MustCompile(`line (\d+):`)
)

// templateError prefixes a text/template error with file, line and the key at that line.
func templateError(path string, err error, lines lineIndex) error {
	m := tmplLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	if key := lines.keyAt(line, col); key != "" {
		return fmt.Errorf("%s:%d: key %s: %w", path, line, key, err)
	}
	return fmt.Errorf("%s:%d: %w", path, line, err)
}

// decodeError names the keys at the lines a yaml.TypeError reports.
func decodeError(path, what string, err error, lines lineIndex) error {
	var te *yaml.TypeError
	errs := []string{err.Error()}
	if errors.As(err, &te) {
		errs = te.Errors
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		if m := yamlLineRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			if key := lines.keyAt(line, 0); key != "" {
				e = fmt.Sprintf("%s (key %s)", e, key)
			}
		}
		msgs = append(msgs, e)
	}
	if what != "" {
		path += " " + what
	}
	return fmt.Errorf("%s: %s", path, strings.Join(msgs, "; "))
}

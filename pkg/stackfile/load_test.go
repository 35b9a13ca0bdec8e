package stackfile

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/test/testfiles"
)

// writeStack writes files (name -> content) into a temp dir and returns the services.yaml path.
func writeStack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testfiles.Write(t, dir, files)
	return filepath.Join(dir, "services.yaml")
}

func mustLoad(t *testing.T, path string, opts LoadOptions) *Loaded {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	l, err := Load(path, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return l
}

func TestVariablePrecedence(t *testing.T) {
	stack := `project: p
envFiles: [a.env]
registry: '{{ envOr "K" "unset" }}|{{ index .Vars "K" }}|{{ index .UserVars "K" }}'
`
	files := map[string]string{
		"services.yaml": stack,
		"a.env":         "K=from-envfile\n",
		"vars.yaml":     "K: from-varfile\n",
		"vars.env":      "K=from-dotenv-varfile\n",
	}
	path := writeStack(t, files)
	dir := filepath.Dir(path)
	cases := []struct {
		name     string
		environ  []string
		envFiles bool
		varFiles []string
		vars     map[string]string
		want     string
	}{
		{"process env only", []string{"K=from-process"}, false, nil, nil, "from-process||"},
		{"envFiles override process env", []string{"K=from-process"}, true, nil, nil, "from-envfile||"},
		{"yaml var-file overrides envFiles", []string{"K=from-process"}, true, []string{"vars.yaml"}, nil, "from-varfile|from-varfile|"},
		{"dotenv var-file", nil, true, []string{"vars.env"}, nil, "from-dotenv-varfile|from-dotenv-varfile|"},
		{"later var-file wins", nil, true, []string{"vars.yaml", "vars.env"}, nil, "from-dotenv-varfile|from-dotenv-varfile|"},
		{"inline vars win over all", []string{"K=from-process"}, true, []string{"vars.yaml"}, map[string]string{"K": "inline"}, "inline|inline|inline"},
		{"nothing set", nil, false, nil, nil, "unset||"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if !tc.envFiles {
				p = writeStack(t, map[string]string{"services.yaml": strings.Replace(stack, "envFiles: [a.env]\n", "", 1)})
			}
			var vf []string
			for _, f := range tc.varFiles {
				vf = append(vf, filepath.Join(dir, f))
			}
			environ := tc.environ
			if environ == nil {
				environ = []string{}
			}
			l := mustLoad(t, p, LoadOptions{Env: "dev", Environ: environ, VarFiles: vf, Vars: tc.vars})
			if l.Stack.Registry != tc.want {
				t.Errorf("registry = %q, want %q", l.Stack.Registry, tc.want)
			}
		})
	}
}

func TestMissingEnvFileIsAWarning(t *testing.T) {
	path := writeStack(t, map[string]string{"services.yaml": "project: p\nenvFiles: [nope.env]\n"})
	l := mustLoad(t, path, LoadOptions{Env: "dev"})
	if len(l.Warnings) != 1 || l.Warnings[0].Key != "envFiles[0]" {
		t.Fatalf("warnings = %v, want one for envFiles[0]", l.Warnings)
	}
}

func TestNamespaceResolution(t *testing.T) {
	withPatterns := `project: shop
namespace:
  patterns:
    dev: '{{ .Project }}-human'
    ai: 'slot{{ .Slot }}-{{ .Env }}'
    blank: '{{ if false }}x{{ end }}'
`
	noPatterns := "project: shop\n"
	cases := []struct {
		name, stack, env, explicit string
		slot                       int
		want                       string
	}{
		{"explicit wins", withPatterns, "dev", "given", 0, "given"},
		{"pattern", withPatterns, "dev", "", 0, "shop-human"},
		{"pattern sees slot", withPatterns, "ai", "", 4, "slot4-ai"},
		{"pattern rendering empty falls back", withPatterns, "blank", "", 0, "shop-blank"},
		{"ai with slot", noPatterns, "ai", "", 2, "shop-dev-2"},
		{"ai without slot", noPatterns, "ai", "", 0, "shop-ai"},
		{"ai-repair", noPatterns, "ai-repair", "", 0, "shop-ai-staging"},
		{"other env", noPatterns, "ai-staging", "", 0, "shop-ai-staging"},
		{"other env with slot", noPatterns, "qa", "", 3, "shop-qa"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeStack(t, map[string]string{"services.yaml": tc.stack + "registry: '{{ .Namespace }}'\n"})
			l := mustLoad(t, path, LoadOptions{Env: tc.env, Slot: tc.slot, Namespace: tc.explicit})
			if l.Context.Namespace != tc.want {
				t.Errorf("namespace = %q, want %q", l.Context.Namespace, tc.want)
			}
			if l.Stack.Registry != tc.want {
				t.Errorf("templates see .Namespace = %q, want %q", l.Stack.Registry, tc.want)
			}
		})
	}
	path := writeStack(t, map[string]string{"services.yaml": withPatterns})
	l := mustLoad(t, path, LoadOptions{Env: "dev"})
	for slot, want := range map[int]string{1: "slot1-ai", 7: "slot7-ai"} {
		got, err := l.SlotNamespace(slot)
		if err != nil || got != want {
			t.Errorf("SlotNamespace(%d) = %q, %v; want %q", slot, got, err, want)
		}
	}
}

func TestContextAfterLoad(t *testing.T) {
	stack := `# {{- $v := "9" -}}
project: p
versions: {api: '{{ $v }}.0'}
baseDomain: {dev: '{{ envOr "D" "x.invalid" }}'}
storage: {workspace: {size: 1Gi, accessModes: [ReadWriteMany]}}
codex: {model: m1}
registry: 'r-{{ index .Versions "api" }}'
`
	path := writeStack(t, map[string]string{"services.yaml": stack})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	l := mustLoad(t, path, LoadOptions{Env: "dev", Now: now, Environ: []string{"D=d.invalid"}})
	c := l.Context
	if c.Project != "p" || c.Env != "dev" || c.ProjectRoot != filepath.Dir(path) {
		t.Errorf("context = %+v", c)
	}
	if !c.Now.Equal(now) || c.Now.Location() != time.UTC {
		t.Errorf("Now = %v, want %v in UTC", c.Now, now)
	}
	// While the file renders, .Versions is the raw header map; afterwards the rendered one.
	if l.Stack.Registry != "r-{{ $v }}.0" {
		t.Errorf("registry = %q: templates must see the raw header versions", l.Stack.Registry)
	}
	if c.Versions["api"] != "9.0" || c.BaseDomain["dev"] != "d.invalid" || c.Codex.Model != "m1" || c.Storage.Workspace.Size != "1Gi" {
		t.Errorf("context after load: versions=%v baseDomain=%v codex=%+v storage=%+v", c.Versions, c.BaseDomain, c.Codex, c.Storage)
	}
	got, err := l.RenderString("x", `{{ .Codex.Model }} {{ .Storage.Workspace.Size }} {{ index .Versions "api" }}`)
	if err != nil || got != "m1 1Gi 9.0" {
		t.Errorf("RenderString = %q, %v", got, err)
	}
	got, err = l.RenderStringWith("x", `{{ .Slot }}`, func(c *Context) { c.Slot = 5 })
	if err != nil || got != "5" || l.Context.Slot != 0 {
		t.Errorf("RenderStringWith = %q, %v (context slot %d)", got, err, l.Context.Slot)
	}
}

func TestEnvironmentInheritance(t *testing.T) {
	stack := `project: p
environments:
  base: {imagePullPolicy: Always, slotBootstrapInfra: [a, b]}
  mid: {from: base, imagePullPolicy: IfNotPresent}
  leaf: {from: mid, slotBootstrapInfra: [c]}
  loop1: {from: loop2}
  loop2: {from: loop1}
  orphan: {from: nowhere}
`
	path := writeStack(t, map[string]string{"services.yaml": stack})
	cases := []struct {
		env     string
		want    Environment
		wantErr string
	}{
		{env: "base", want: Environment{ImagePullPolicy: "Always", SlotBootstrapInfra: []string{"a", "b"}}},
		{env: "mid", want: Environment{From: "base", ImagePullPolicy: "IfNotPresent", SlotBootstrapInfra: []string{"a", "b"}}},
		{env: "leaf", want: Environment{From: "mid", ImagePullPolicy: "IfNotPresent", SlotBootstrapInfra: []string{"c"}}},
		{env: "undeclared", want: Environment{}},
		{env: "loop1", wantErr: "cycle"},
		{env: "orphan", wantErr: `unknown environment "nowhere"`},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			l, err := Load(path, LoadOptions{Env: tc.env, Environ: []string{}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := l.Environment
			if g.From != tc.want.From || g.ImagePullPolicy != tc.want.ImagePullPolicy || strings.Join(g.SlotBootstrapInfra, ",") != strings.Join(tc.want.SlotBootstrapInfra, ",") {
				t.Errorf("environment = %+v, want %+v", g, tc.want)
			}
		})
	}
}

func TestUnknownKeysAreWarnings(t *testing.T) {
	stack := `project: p
colour: blue
services:
  - name: api
    overlays:
      ai:
        pvcmounts: []
codex:
  mcp:
    servers:
      - name: s
        type: stdio
        command: x
        env:
          K: {value: v, extra: 1}
`
	path := writeStack(t, map[string]string{"services.yaml": stack})
	l := mustLoad(t, path, LoadOptions{Env: "dev"})
	want := map[string]int{
		"colour":                            2,
		"services[0].overlays.ai.pvcmounts": 7,
		"codex.mcp.servers[0].env.K.extra":  15,
	}
	if len(l.Warnings) != len(want) {
		t.Fatalf("warnings = %v, want %d", l.Warnings, len(want))
	}
	for _, w := range l.Warnings {
		line, ok := want[w.Key]
		if !ok || w.Line != line {
			t.Errorf("unexpected warning %s (want keys/lines %v)", w, want)
		}
		if !strings.Contains(w.String(), path) {
			t.Errorf("warning %q does not name the file", w)
		}
	}
	if !strings.Contains(l.Warnings[1].Message, `"pvcMounts"`) {
		t.Errorf("warning %q should suggest pvcMounts", l.Warnings[1])
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, stack string
		wants       []string
	}{
		{"invalid yaml before templating", "project: p\n  bad: [\n", []string{"services.yaml", "not valid YAML before templating", "line"}},
		{"template parse error", "project: p\nregistry: '{{ nosuch }}'\n", []string{"services.yaml:2", "key registry", "nosuch"}},
		{"template exec error", "project: p\nservices:\n  - name: a\n    when: '{{ index .Slot 1 }}'\n", []string{"services.yaml:4", "key services[0].when"}},
		{"type error", "project: p\nmaxSlots: many\n", []string{"services.yaml", "line 2", "key maxSlots"}},
		{"bad duration", "project: p\ncodex:\n  timeouts: {exec: soon}\n", []string{"services.yaml", `"soon"`, "key codex.timeouts.exec"}},
		{"missing project", "registry: r\n", []string{"project: required"}},
		{"unknown builtin", "project: p\nhooks:\n  beforeAll: [{name: x, use: kubectl.apply}]\n", []string{"hooks.beforeAll[0].use", `unknown builtin "kubectl.apply"`}},
		{"run and use", "project: p\nhooks:\n  afterAll: [{run: echo, use: sleep}]\n", []string{"hooks.afterAll[0]", "not both"}},
		{"value ref with two sources", "project: p\ncodex:\n  mcp:\n    servers: [{name: s, type: stdio, command: c, env: {K: {value: v, envRef: E}}}]\n", []string{"codex.mcp.servers[0].env.K", "exactly one"}},
		{"image type", "project: p\nimages:\n  x: {type: docker}\n", []string{"images.x.type"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeStack(t, map[string]string{"services.yaml": tc.stack})
			_, err := Load(path, LoadOptions{Env: "dev", Environ: []string{}})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml"), LoadOptions{Env: "dev"}); err == nil {
		t.Error("missing file: want an error")
	}
	path := writeStack(t, map[string]string{"services.yaml": "project: p\n"})
	if _, err := Load(path, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "no environment") {
		t.Errorf("no env: err = %v", err)
	}
}

func TestHeaderFallbackAfterTrimmedComment(t *testing.T) {
	// The trailing -}} glues the next line onto the comment in the rendered text.
	stack := "# {{- $x := 1 -}}\n\nproject: glued\nregistry: r\n"
	path := writeStack(t, map[string]string{"services.yaml": stack})
	l := mustLoad(t, path, LoadOptions{Env: "dev"})
	if l.Stack.Project != "glued" || l.Context.Project != "glued" {
		t.Errorf("project = %q / %q, want glued", l.Stack.Project, l.Context.Project)
	}
}

func TestVarFileErrors(t *testing.T) {
	path := writeStack(t, map[string]string{"services.yaml": "project: p\n", "nested.yaml": "K: {a: 1}\n"})
	dir := filepath.Dir(path)
	for _, vf := range []string{filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "nested.yaml")} {
		if _, err := Load(path, LoadOptions{Env: "dev", Environ: []string{}, VarFiles: []string{vf}}); err == nil || !strings.Contains(err.Error(), "var-file") {
			t.Errorf("var-file %s: err = %v, want a var-file error", vf, err)
		}
	}
}

func TestParseVars(t *testing.T) {
	got, err := ParseVars("a=1, b = x=y ,,c=")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": " x=y ", "c": ""}
	if len(got) != len(want) {
		t.Fatalf("ParseVars = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ParseVars[%q] = %q, want %q", k, got[k], v)
		}
	}
	if _, err := ParseVars("novalue"); err == nil {
		t.Error("ParseVars(novalue): want an error")
	}
}

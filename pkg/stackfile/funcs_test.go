package stackfile

import (
	"strings"
	"testing"
	"time"
)

func testLoaded(t *testing.T, envMap map[string]string) *Loaded {
	t.Helper()
	return &Loaded{Path: "test.yaml", Context: &Context{
		Env: "dev", Namespace: "ns", Project: "p", Slot: 3,
		Now:    time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
		EnvMap: envMap, Vars: map[string]string{}, UserVars: map[string]string{},
		Versions: map[string]string{"api": "1.2"}, BaseDomain: map[string]string{},
	}}
}

func TestTemplateFunctions(t *testing.T) {
	l := testLoaded(t, map[string]string{"SET": "value", "EMPTY": ""})
	cases := []struct {
		name, tmpl, want string
	}{
		// default VALUE DEF: value first, fallback second (not sprig's order).
		{"default keeps value", `{{ default "v" "d" }}`, "v"},
		{"default empty", `{{ default "" "d" }}`, "d"},
		{"default whitespace", `{{ default "  \t" "d" }}`, "d"},
		{"default pipeline puts piped value last", `{{ "x" | default "first" }}`, "first"},
		{"default nil map entry", `{{ default .Vars.missing "d" }}`, "d"},
		{"default non-string", `{{ default .Slot "d" }}`, "3"},
		{"toLower", `{{ toLower "MiXeD Case" }}`, "mixed case"},
		{"slug", `{{ slug "  My_Feature Branch " }}`, "my-feature-branch"},
		{"truncSHA long", `{{ truncSHA "0123456789abcdef0123" }}`, "0123456789ab"},
		{"truncSHA short", `{{ truncSHA "abc" }}`, "abc"},
		{"envOr present", `{{ envOr "SET" "d" }}`, "value"},
		{"envOr empty", `{{ envOr "EMPTY" "d" }}`, "d"},
		{"envOr missing", `{{ envOr "MISSING" "d" }}`, "d"},
		{"ternary true", `{{ ternary true "a" "b" }}`, "a"},
		{"ternary false", `{{ ternary (eq .Env "ai") "a" "b" }}`, "b"},
		{"now", `{{ now.Format "2006-01-02T15:04:05Z07:00" }}`, "2026-05-06T07:08:09Z"},
		{"join", `{{ join .List ", " }}`, "a, b"},
		{"indent", `{{ indent 2 "a\nb\n\n" }}`, "  a\n  b"},
		{"indent empty", `[{{ indent 4 "" }}]`, "[]"},
		{"indent inner blank line", `{{ indent 1 "a\n\nb" }}`, " a\n \n b"},
		{"trimPrefix", `{{ trimPrefix "/workspace/agent" "/workspace/" }}`, "agent"},
		{"trimPrefix absent", `{{ trimPrefix "abc" "x" }}`, "abc"},
		{"builtins", `{{ printf "%s-%d" .Project .Slot }} {{ index .Versions "api" }} {{ len .Versions }}`, "p-3 1.2 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.tmpl
			var got string
			var err error
			if strings.Contains(text, ".List") {
				got, err = renderWithData(l, text, map[string]any{"List": []any{"a", "b"}})
			} else {
				got, err = l.RenderString(tc.name, text)
			}
			if err != nil {
				t.Fatalf("render %q: %v", text, err)
			}
			if got != tc.want {
				t.Errorf("render %q = %q, want %q", text, got, tc.want)
			}
		})
	}
}

func renderWithData(l *Loaded, text string, data any) (string, error) {
	var sb strings.Builder
	tm, err := newTemplate(l.Context, "t", text)
	if err != nil {
		return "", err
	}
	err = tm.Execute(&sb, data)
	return sb.String(), err
}

func TestJoinStringSlice(t *testing.T) {
	got, err := join([]string{"x", "y", "z"}, "-")
	if err != nil || got != "x-y-z" {
		t.Fatalf("join = %q, %v", got, err)
	}
	if _, err := join(42, ","); err == nil {
		t.Fatal("join of a non-list: want an error")
	}
}

func TestTernaryNeedsBool(t *testing.T) {
	l := testLoaded(t, nil)
	if _, err := l.RenderString("t", `{{ ternary "yes" "a" "b" }}`); err == nil {
		t.Fatal("ternary with a string condition: want an error")
	}
}

func TestIsTrue(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "true": true, "yes": true, "1": true, "anything": true,
		"false": false, "FALSE": false, " False\n": false, "0": false, "no": false, "No": false, "NO ": false,
	} {
		if got := IsTrue(in); got != want {
			t.Errorf("IsTrue(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestWhen(t *testing.T) {
	l := testLoaded(t, nil)
	cases := map[string]bool{
		"":                         true,
		"   ":                      true,
		`{{ eq .Env "dev" }}`:      true,
		`{{ eq .Env "ai" }}`:       false,
		`{{ if false }}x{{ end }}`: true, // renders empty -> true
		"no":                       false,
		"0":                        false,
		"{{ .Slot }}":              true,
	}
	for expr, want := range cases {
		got, err := l.When("when", expr)
		if err != nil {
			t.Fatalf("When(%q): %v", expr, err)
		}
		if got != want {
			t.Errorf("When(%q) = %v, want %v", expr, got, want)
		}
	}
	if _, err := l.When("when", "{{ nosuchfunc }}"); err == nil {
		t.Error("When with an unknown function: want an error")
	}
}

func TestRenderLimits(t *testing.T) {
	l := testLoaded(t, nil)
	if _, err := l.RenderString("t", `{{ indent 100000 "x" }}`); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("huge indent: err = %v", err)
	}
	defer func(n int) { maxRendered = n }(maxRendered)
	maxRendered = 1 << 16
	if _, err := l.RenderString("t", `{{ range 70000 }}{{ printf "%1000d" 1 }}{{ end }}`); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("runaway output: err = %v", err)
	}
}

package render

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/stackfile"
)

func needBash(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash not found: hooks run scripts with bash")
	}
}

type fakeCommenter struct {
	number int
	body   string
	err    error
}

func (f *fakeCommenter) Comment(_ context.Context, n int, body string) error {
	f.number, f.body = n, body
	return f.err
}

func hookRunner(t *testing.T, stack string, env string, slot int) (*HookRunner, *bytes.Buffer, string) {
	t.Helper()
	path := writeFiles(t, map[string]string{"services.yaml": stack})
	l := load(t, path, env, slot)
	var log bytes.Buffer
	return &HookRunner{Loaded: l, Stdout: &log, Stderr: &log, Environ: []string{"PATH=" + os.Getenv("PATH")}}, &log, filepath.Dir(path)
}

func TestHookScripts(t *testing.T) {
	needBash(t)
	h, log, dir := hookRunner(t, "project: p\n", "ai", 4)
	steps := []stackfile.HookStep{
		{Name: "env", Run: `echo "$NAMESPACE $SLOT $ENV $PROJECT {{ .Namespace }}" > out.txt`},
		{Name: "skipped", When: `{{ eq .Env "dev" }}`, Run: "touch skipped"},
		{Name: "fails-softly", Run: "exit 3", ContinueOnError: true},
	}
	if err := h.RunGlobal(context.Background(), "beforeAll", steps); err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil || strings.TrimSpace(string(b)) != "p-dev-4 4 ai p p-dev-4" {
		t.Errorf("script output = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "skipped")); err == nil {
		t.Error("a step whose when is false ran")
	}
	if !strings.Contains(log.String(), "fails-softly") || !strings.Contains(log.String(), "continueOnError") {
		t.Errorf("log lacks the soft failure:\n%s", log)
	}

	err = h.RunGlobal(context.Background(), "afterAll", []stackfile.HookStep{{Name: "hard", Run: "exit 5"}, {Name: "after", Run: "touch after"}})
	if err == nil || !strings.Contains(err.Error(), "hooks.afterAll[hard]") || !strings.Contains(err.Error(), "exit status 5") {
		t.Errorf("err = %v, want the failing step named", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "after")); err == nil {
		t.Error("a step after a failed one ran")
	}
}

func TestHookTimeoutKillsChildren(t *testing.T) {
	needBash(t)
	h, _, dir := hookRunner(t, "project: p\n", "dev", 0)
	start := time.Now()
	err := h.RunGlobal(context.Background(), "beforeAll", []stackfile.HookStep{{
		Name: "slow", Run: "sleep 30 & wait; touch finished", Timeout: stackfile.Duration(200 * time.Millisecond),
	}})
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("timeout did not stop the script's children (took %s)", time.Since(start))
	}
	if _, err := os.Stat(filepath.Join(dir, "finished")); err == nil {
		t.Error("script continued after the timeout")
	}
}

func TestHookBuiltinsWithoutCluster(t *testing.T) {
	h, _, _ := hookRunner(t, "project: p\n", "ai", 2)
	gh := &fakeCommenter{}
	h.GitHub = gh
	ctx := context.Background()
	err := h.RunGlobal(ctx, "afterAll", []stackfile.HookStep{
		{Name: "nap", Use: "sleep", With: map[string]any{"duration": "10ms"}},
		{Name: "say", Use: "github.comment", With: map[string]any{"issue": "{{ .Slot }}7", "body": "ready in {{ .Namespace }}"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if gh.number != 27 || gh.body != "ready in p-dev-2" {
		t.Errorf("comment = #%d %q", gh.number, gh.body)
	}
	gh.err = errors.New("boom")
	if err := h.RunGlobal(ctx, "afterAll", []stackfile.HookStep{{Use: "github.comment", With: map[string]any{"pr": 5, "body": "x"}}}); err == nil || !strings.Contains(err.Error(), "#5") {
		t.Errorf("err = %v", err)
	}
	cases := []struct {
		step stackfile.HookStep
		want string
	}{
		{stackfile.HookStep{Use: "github.comment", With: map[string]any{"body": "x"}}, "with.issue or with.pr"},
		{stackfile.HookStep{Use: "sleep", With: map[string]any{"duration": "later"}}, "with.duration"},
		{stackfile.HookStep{Use: "kubectl.wait", With: map[string]any{"kind": "Deployment", "name": "x"}}, "no cluster"},
		{stackfile.HookStep{Use: "preflight"}, "no cluster"},
	}
	for _, tc := range cases {
		if err := h.RunGlobal(ctx, "afterAll", []stackfile.HookStep{tc.step}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.step.Use, err, tc.want)
		}
	}
	h.GitHub = nil
	if err := h.RunGlobal(ctx, "afterAll", []stackfile.HookStep{{Use: "github.comment", With: map[string]any{"pr": 5, "body": "x"}}}); err == nil || !strings.Contains(err.Error(), "no GitHub client") {
		t.Errorf("err = %v", err)
	}
}

func TestHookCheckRejectsUnknownBuiltin(t *testing.T) {
	h, _, _ := hookRunner(t, "project: p\n", "dev", 0)
	items := []Item{{Kind: KindService, Name: "api", Hooks: stackfile.Hooks{AfterApply: []stackfile.HookStep{{Name: "x", Use: "kubectl.apply"}}}}}
	err := h.Check(items)
	if err == nil || !strings.Contains(err.Error(), `service api afterApply[0] "x": unknown builtin "kubectl.apply"`) {
		t.Errorf("Check = %v", err)
	}
	// Apply refuses before touching the cluster (a non-nil cluster that would panic if used).
	res := &Result{Items: items}
	if _, err := Apply(context.Background(), &Cluster{}, h.Loaded, res, ApplyOptions{Hooks: h}); err == nil || !strings.Contains(err.Error(), "unknown builtin") {
		t.Errorf("Apply = %v", err)
	}
	if _, err := Destroy(context.Background(), &Cluster{}, h.Loaded, res, DestroyOptions{Hooks: h}); err == nil || !strings.Contains(err.Error(), "unknown builtin") {
		t.Errorf("Destroy = %v", err)
	}
	var nilRunner *HookRunner
	if err := nilRunner.Check(items); err != nil {
		t.Errorf("nil runner Check = %v", err)
	}
}

func TestSelectSkipsHooksOfFilteredItems(t *testing.T) {
	needBash(t)
	stack := `project: p
infrastructure:
  - name: on
    hooks: {afterApply: [{run: touch on}]}
  - name: off
    when: "false"
    hooks: {afterApply: [{run: touch off-when}]}
services:
  - name: skipped
    hooks: {beforeApply: [{run: touch off-filter}]}
`
	h, _, dir := hookRunner(t, stack, "dev", 0)
	items, _, err := Select(h.Loaded, Filters{SkipServices: []string{"SKIPPED"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if err := h.RunItem(context.Background(), it, "beforeApply", it.Hooks.BeforeApply); err != nil {
			t.Fatal(err)
		}
		if err := h.RunItem(context.Background(), it, "afterApply", it.Hooks.AfterApply); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"on": true, "off-when": false, "off-filter": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != want {
			t.Errorf("hook creating %q ran = %v, want %v", name, err == nil, want)
		}
	}
}

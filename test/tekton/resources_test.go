package tekton_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	agentinstall "github.com/agentline/agentline/test/install"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"
)

// The Tasks and Pipelines agentline ships (tasks/<name>/<name>.yaml, pipelines/<name>/<name>.yaml).
var (
	taskNames     = []string{"slot-lease", "render", "kaniko-wrap", "agent-run", "pr-apply"}
	pipelineNames = []string{"staging-deploy", "ai-plan", "ai-plan-review", "ai-dev", "ai-dev-review", "ai-repair", "ai-repair-review", "cleanup"}
	// sharedParams are the params every Pipeline takes (same names everywhere; the controller
	// and the TriggerTemplate pass all of them).
	sharedParams = []string{"repo", "repo-url", "issue", "pr", "focus-issue", "sha", "base", "head", "sender", "lang", "model", "reasoning-effort", "key", "delivery"}
)

// repoRoot is the module root (the folder holding go.mod), found from the test's folder.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test folder")
		}
		dir = parent
	}
}

// splitDocs splits a multi-document YAML stream into its non-empty documents (raw YAML).
var splitDocs = agentinstall.SplitDocs

// loadTask reads tasks/<name>/<name>.yaml strictly (an unknown field is an error).
func loadTask(t testing.TB, name string) *pipelinev1.Task {
	t.Helper()
	path := filepath.Join(repoRoot(t), "tasks", name, name+".yaml")
	var task pipelinev1.Task
	readStrict(t, path, &task)
	if task.Kind != "Task" || task.APIVersion != "tekton.dev/v1" || task.Name != name {
		t.Fatalf("%s: want a tekton.dev/v1 Task named %s, got %s %s %s", path, name, task.APIVersion, task.Kind, task.Name)
	}
	return &task
}

// loadPipeline reads pipelines/<name>/<name>.yaml strictly.
func loadPipeline(t testing.TB, name string) *pipelinev1.Pipeline {
	t.Helper()
	path := filepath.Join(repoRoot(t), "pipelines", name, name+".yaml")
	var p pipelinev1.Pipeline
	readStrict(t, path, &p)
	if p.Kind != "Pipeline" || p.APIVersion != "tekton.dev/v1" || p.Name != name {
		t.Fatalf("%s: want a tekton.dev/v1 Pipeline named %s, got %s %s %s", path, name, p.APIVersion, p.Kind, p.Name)
	}
	return &p
}

func readStrict(t testing.TB, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := splitDocs(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: want exactly one YAML document, got %d", path, len(docs))
	}
	if err := yaml.UnmarshalStrict(docs[0], into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func errorf(errs *[]string, format string, args ...any) {
	*errs = append(*errs, fmt.Sprintf(format, args...))
}

func reportAll(t *testing.T, what string, errs []string) {
	t.Helper()
	if len(errs) > 0 {
		t.Errorf("%s:\n  %s", what, strings.Join(errs, "\n  "))
	}
}

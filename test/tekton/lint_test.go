package tekton_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/router"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// catalogMeta checks the Tekton catalog conventions on a Task's or Pipeline's metadata.
func catalogMeta(errs *[]string, what string, m metav1.ObjectMeta, description string) {
	if m.Labels["app.kubernetes.io/version"] == "" {
		errorf(errs, "%s: label app.kubernetes.io/version missing", what)
	}
	if v := m.Annotations["tekton.dev/pipelines.minVersion"]; !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		errorf(errs, "%s: annotation tekton.dev/pipelines.minVersion %q is not a version", what, v)
	}
	for _, a := range []string{"tekton.dev/categories", "tekton.dev/tags", "tekton.dev/displayName"} {
		if strings.TrimSpace(m.Annotations[a]) == "" {
			errorf(errs, "%s: annotation %s missing", what, a)
		}
	}
	if strings.TrimSpace(description) == "" {
		errorf(errs, "%s: spec.description missing", what)
	}
}

// secretLooking are names that must never be a param: secrets arrive as workspaces or
// secretKeyRef/envFrom env, never as values in the PipelineRun.
var secretLooking = regexp.MustCompile(`(?i)token|password|passwd|api-?key|credential`)

// secretEnv are env var names whose value must come from a Secret, not from a param.
var secretEnv = regexp.MustCompile(`(?i)(_TOKEN|_PASSWORD|_API_KEY|_SECRET)$`)

func paramSpecs(errs *[]string, what string, ps pipelinev1.ParamSpecs) {
	for _, p := range ps {
		if strings.TrimSpace(p.Description) == "" {
			errorf(errs, "%s: param %s has no description", what, p.Name)
		}
		if p.Type == "" {
			errorf(errs, "%s: param %s has no type", what, p.Name)
		}
		if secretLooking.MatchString(p.Name) {
			errorf(errs, "%s: param %s looks like a secret value; use a workspace or secretKeyRef", what, p.Name)
		}
	}
}

func TestTasksFollowCatalogConventions(t *testing.T) {
	ctx := context.Background()
	for _, name := range taskNames {
		t.Run(name, func(t *testing.T) {
			task := loadTask(t, name)
			var errs []string
			what := "tasks/" + name
			catalogMeta(&errs, what, task.ObjectMeta, task.Spec.Description)
			paramSpecs(&errs, what, task.Spec.Params)
			for _, r := range task.Spec.Results {
				if strings.TrimSpace(r.Description) == "" {
					errorf(&errs, "%s: result %s has no description", what, r.Name)
				}
			}
			for _, w := range task.Spec.Workspaces {
				if strings.TrimSpace(w.Description) == "" {
					errorf(&errs, "%s: workspace %s has no description", what, w.Name)
				}
			}
			resultsDir := false
			for _, s := range task.Spec.Steps {
				sw := what + " step " + s.Name
				if s.Name == "" {
					errorf(&errs, "%s: a step has no name", what)
				}
				// Without a command Tekton must fetch the image's entrypoint from a registry.
				if len(s.Command) == 0 && s.Script == "" {
					errorf(&errs, "%s: no command", sw)
				}
				if slices.Contains(s.Args, "--results-dir=/tekton/results") {
					resultsDir = true
				}
				req := s.ComputeResources.Requests
				if task.Spec.StepTemplate != nil && len(req) == 0 {
					req = task.Spec.StepTemplate.ComputeResources.Requests
				}
				if req.Cpu().IsZero() || req.Memory().IsZero() {
					errorf(&errs, "%s: cpu and memory requests must be set", sw)
				}
				sc := s.SecurityContext
				if sc == nil && task.Spec.StepTemplate != nil {
					sc = task.Spec.StepTemplate.SecurityContext
				}
				switch {
				case sc == nil:
					errorf(&errs, "%s: no securityContext", sw)
				case name == "kaniko-wrap":
					// kaniko unpacks images into / and must be root; it still may not escalate.
					if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
						errorf(&errs, "%s: allowPrivilegeEscalation must be false", sw)
					}
				default:
					if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
						errorf(&errs, "%s: must run as a non-root user", sw)
					}
				}
				for _, e := range s.Env {
					if secretEnv.MatchString(e.Name) && e.ValueFrom == nil {
						errorf(&errs, "%s: env %s must come from a Secret (valueFrom), not a value", sw, e.Name)
					}
				}
			}
			if len(task.Spec.Results) > 0 && !resultsDir {
				errorf(&errs, "%s: declares results but no step passes --results-dir=/tekton/results", what)
			}
			if fe := task.Validate(ctx); fe != nil {
				errorf(&errs, "%s: Tekton validation: %v", what, fe)
			}
			readme(&errs, filepath.Join(repoRoot(t), "tasks", name))
			reportAll(t, what, errs)
		})
	}
}

// readme wants a README.md naming the resource's params.
func readme(errs *[]string, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		errorf(errs, "%s: README.md missing", dir)
		return
	}
	if len(strings.TrimSpace(string(b))) < 200 {
		errorf(errs, "%s/README.md is too short to document params, results and workspaces", dir)
	}
}

func TestPipelinesFollowCatalogConventionsAndMatchTheirTasks(t *testing.T) {
	ctx := context.Background()
	tasks := map[string]*pipelinev1.Task{}
	for _, n := range taskNames {
		tasks[n] = loadTask(t, n)
	}
	for _, name := range pipelineNames {
		t.Run(name, func(t *testing.T) {
			p := loadPipeline(t, name)
			var errs []string
			what := "pipelines/" + name
			catalogMeta(&errs, what, p.ObjectMeta, p.Spec.Description)
			paramSpecs(&errs, what, p.Spec.Params)
			declared := map[string]bool{}
			for _, ps := range p.Spec.Params {
				declared[ps.Name] = true
			}
			for _, n := range sharedParams {
				if !declared[n] {
					errorf(&errs, "%s: shared param %s not declared", what, n)
				}
			}
			for _, r := range p.Spec.Results {
				if strings.TrimSpace(r.Description) == "" {
					errorf(&errs, "%s: result %s has no description", what, r.Name)
				}
			}
			pws := map[string]pipelinev1.PipelineWorkspaceDeclaration{}
			for _, w := range p.Spec.Workspaces {
				pws[w.Name] = w
				if strings.TrimSpace(w.Description) == "" {
					errorf(&errs, "%s: workspace %s has no description", what, w.Name)
				}
			}
			all := append(append([]pipelinev1.PipelineTask{}, p.Spec.Tasks...), p.Spec.Finally...)
			for _, pt := range all {
				ptw := what + " task " + pt.Name
				if pt.Timeout == nil || pt.Timeout.Duration <= 0 {
					errorf(&errs, "%s: no timeout", ptw)
				}
				if pt.TaskRef == nil || tasks[pt.TaskRef.Name] == nil {
					errorf(&errs, "%s: taskRef must name one of %v", ptw, taskNames)
					continue
				}
				matchTask(&errs, ptw, pt, tasks[pt.TaskRef.Name], pws)
			}
			if fe := p.Validate(ctx); fe != nil {
				errorf(&errs, "%s: Tekton validation: %v", what, fe)
			}
			readme(&errs, filepath.Join(repoRoot(t), "pipelines", name))
			reportAll(t, what, errs)
		})
	}
}

// matchTask checks a pipeline task against the Task it runs: every param passed is declared,
// every param without default is passed, every required workspace is bound (to a pipeline
// workspace that is not optional), and no unknown workspace is bound.
func matchTask(errs *[]string, what string, pt pipelinev1.PipelineTask, task *pipelinev1.Task, pws map[string]pipelinev1.PipelineWorkspaceDeclaration) {
	passed := map[string]bool{}
	for _, p := range pt.Params {
		passed[p.Name] = true
	}
	specs := map[string]pipelinev1.ParamSpec{}
	for _, ps := range task.Spec.Params {
		specs[ps.Name] = ps
		if ps.Default == nil && !passed[ps.Name] {
			errorf(errs, "%s: required param %s of Task %s not passed", what, ps.Name, task.Name)
		}
	}
	for _, n := range sortedKeys(passed) {
		if _, ok := specs[n]; !ok {
			errorf(errs, "%s: param %s is not a param of Task %s", what, n, task.Name)
		}
	}
	bound := map[string]string{}
	for _, w := range pt.Workspaces {
		bound[w.Name] = w.Workspace
	}
	tws := map[string]pipelinev1.WorkspaceDeclaration{}
	for _, w := range task.Spec.Workspaces {
		tws[w.Name] = w
		pw, ok := bound[w.Name]
		switch {
		case !ok && !w.Optional:
			errorf(errs, "%s: workspace %s of Task %s not bound", what, w.Name, task.Name)
		case ok && !w.Optional && pws[pw].Optional:
			errorf(errs, "%s: required workspace %s bound to optional pipeline workspace %s", what, w.Name, pw)
		}
	}
	for _, n := range sortedKeys(bound) {
		if _, ok := tws[n]; !ok {
			errorf(errs, "%s: workspace %s is not a workspace of Task %s", what, n, task.Name)
		}
		if _, ok := pws[bound[n]]; !ok {
			errorf(errs, "%s: pipeline workspace %s not declared", what, bound[n])
		}
	}
}

// koRef is an image built by ko from this module.
var koRef = regexp.MustCompile(`ko://([A-Za-z0-9._/-]+)`)

const modulePath = "github.com/agentline/agentline"

// TestKoReferencesNameMainPackages finds every ko:// image in the install (tasks, pipelines,
// triggers, config) and .ko.yaml's builds, and wants each to be a main package of this module.
func TestKoReferencesNameMainPackages(t *testing.T) {
	root := repoRoot(t)
	refs := map[string][]string{} // import path -> files
	for _, dir := range []string{"tasks", "pipelines", "triggers", "config"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range koRef.FindAllStringSubmatch(string(b), -1) {
				rel, _ := filepath.Rel(root, path)
				refs[m[1]] = append(refs[m[1]], rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ko, err := os.ReadFile(filepath.Join(root, ".ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*main:\s*\./(\S+)`).FindAllStringSubmatch(string(ko), -1) {
		refs[modulePath+"/"+m[1]] = append(refs[modulePath+"/"+m[1]], ".ko.yaml")
	}
	if len(refs) == 0 {
		t.Fatal("no ko:// reference found: the Tasks should use ko-built images")
	}
	var errs []string
	for _, ref := range sortedKeys(refs) {
		rel, ok := strings.CutPrefix(ref, modulePath+"/")
		if !ok || !strings.HasPrefix(rel, "cmd/") {
			errorf(&errs, "%s (in %v): not a cmd/ package of %s", ref, refs[ref], modulePath)
			continue
		}
		if !isMainPackage(filepath.Join(root, rel)) {
			errorf(&errs, "%s (in %v): %s is not an existing main package", ref, refs[ref], rel)
		}
	}
	reportAll(t, "ko:// references", errs)
}

var packageMain = regexp.MustCompile(`(?m)^package main\b`)

func isMainPackage(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && packageMain.Match(b) {
			return true
		}
	}
	return false
}

// TestRunParamDefaultsMatchTheRouter keeps the Pipelines' defaults of the params the controller
// always passes (github-url, agent-image) equal to the router's, so a run started by hand
// (tkn pipeline start) behaves like one the controller starts with an empty configuration.
func TestRunParamDefaultsMatchTheRouter(t *testing.T) {
	want := map[string]string{router.ParamGitHubURL: router.DefaultGitHubURL, router.ParamAgentImage: router.DefaultAgentImage}
	for _, name := range pipelineNames {
		p := loadPipeline(t, name)
		for _, ps := range p.Spec.Params {
			w, ok := want[ps.Name]
			if !ok {
				continue
			}
			if ps.Default == nil || ps.Default.StringVal != w {
				t.Errorf("pipeline %s: param %s default %v, want the router's %q", name, ps.Name, ps.Default, w)
			}
		}
	}
}

package tekton_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
)

func configMapData(t *testing.T, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	data, _, err := unstructured.NestedStringMap(find(t, objs, "ConfigMap", "agentline-config").Object, "data")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestInstallBuildsAndIsComplete builds config/ and wants every Task and Pipeline, the
// Triggers objects and the controller in it, all in agentline-system.
func TestInstallBuildsAndIsComplete(t *testing.T) {
	objs := build(t, filepath.Join(repoRoot(t), "config"))
	for _, n := range taskNames {
		find(t, objs, "Task", n)
	}
	for _, n := range pipelineNames {
		find(t, objs, "Pipeline", n)
	}
	for _, kn := range [][2]string{
		{"EventListener", "agentline-github"}, {"TriggerBinding", "agentline-route"}, {"TriggerTemplate", "agentline-run"},
		{"ClusterInterceptor", "agentline"}, {"Deployment", "agentline-controller"}, {"Service", "agentline-controller"},
		{"ConfigMap", "agentline-config"}, {"Namespace", "agentline-system"},
	} {
		find(t, objs, kn[0], kn[1])
	}
	seen := map[string]string{}
	for _, o := range objs {
		id := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		if prev, dup := seen[id]; dup {
			t.Errorf("%s defined twice (%s and %s)", id, prev, o.GetAnnotations()[sourceAnnotation])
		}
		seen[id] = o.GetAnnotations()[sourceAnnotation]
		if !clusterScoped[o.GetKind()] && o.GetNamespace() != "agentline-system" {
			t.Errorf("%s: namespace %q, want agentline-system", id, o.GetNamespace())
		}
	}
}

// TestConfigMapIsReadByTheController parses agentline-config with the controller's own readers.
func TestConfigMapIsReadByTheController(t *testing.T) {
	objs := build(t, filepath.Join(repoRoot(t), "config"))
	data := configMapData(t, objs)
	if _, err := router.ConfigFromMap(data); err != nil {
		t.Errorf("router reads agentline-config: %v", err)
	}
	rc, err := runs.ConfigFromMap(data)
	if err != nil {
		t.Fatalf("runs reads agentline-config: %v", err)
	}
	if rc.Namespace != "agentline-system" {
		t.Errorf("run-namespace = %q, want agentline-system (where the Pipelines are installed)", rc.Namespace)
	}
	find(t, objs, "ServiceAccount", rc.ServiceAccountName)
	for _, k := range []string{"allowed-users", "trigger-label-dev", "max-slots", "dashboard-url", "language", "github-token-secret", "github-webhook-secret"} {
		if _, ok := data[k]; !ok {
			t.Errorf("agentline-config has no key %s", k)
		}
	}
	// Every Pipeline gets what it needs from the controller's bindings, and nothing it does not declare.
	for _, name := range pipelineNames {
		p := loadPipeline(t, name)
		checkBindings(t, "agentline-config workspaces for "+name, p, rc.WorkspacesFor(name))
	}
}

func checkBindings(t *testing.T, what string, p *pipelinev1.Pipeline, ws []pipelinev1.WorkspaceBinding) {
	t.Helper()
	bound := map[string]bool{}
	for _, w := range ws {
		bound[w.Name] = true
	}
	declared := map[string]bool{}
	for _, d := range p.Spec.Workspaces {
		declared[d.Name] = true
		if !d.Optional && !bound[d.Name] {
			t.Errorf("%s: required workspace %s not bound", what, d.Name)
		}
	}
	for n := range bound {
		if !declared[n] {
			t.Errorf("%s: binds workspace %s that the Pipeline does not declare", what, n)
		}
	}
}

// TestTriggersMatchPipelinesAndConfig checks the Triggers path against the Pipelines and the
// controller's configuration: the TriggerTemplate creates a Pending, fixed-name PipelineRun with
// agentline's labels, every shared param, the same workspaces and service account as the
// controller's runs; the binding fills every template param from extensions.agentline; the
// EventListener verifies signatures with the configured webhook Secret, then asks agentline.
func TestTriggersMatchPipelinesAndConfig(t *testing.T) {
	objs := build(t, filepath.Join(repoRoot(t), "config"))
	data := configMapData(t, objs)
	rc, err := runs.ConfigFromMap(data)
	if err != nil {
		t.Fatal(err)
	}

	tt := find(t, objs, "TriggerTemplate", "agentline-run")
	tmpl, _, _ := unstructured.NestedSlice(tt.Object, "spec", "resourcetemplates")
	if len(tmpl) != 1 {
		t.Fatalf("TriggerTemplate: want one resource template, got %d", len(tmpl))
	}
	raw, _ := json.Marshal(tmpl[0])
	var pr pipelinev1.PipelineRun
	if err := json.Unmarshal(raw, &pr); err != nil {
		t.Fatalf("TriggerTemplate resource is not a PipelineRun: %v", err)
	}
	if pr.Name != "$(tt.params.run-name)" || pr.GenerateName != "" {
		t.Errorf("PipelineRun must be named by the route (a redelivery then cannot create a second run): name=%q generateName=%q", pr.Name, pr.GenerateName)
	}
	if pr.Spec.Status != pipelinev1.PipelineRunSpecStatusPending {
		t.Errorf("PipelineRun spec.status = %q, want PipelineRunPending", pr.Spec.Status)
	}
	if pr.Labels[runs.LabelState] != runs.StateQueued {
		t.Errorf("label %s = %q, want %q", runs.LabelState, pr.Labels[runs.LabelState], runs.StateQueued)
	}
	for _, l := range []string{runs.LabelRepo, runs.LabelIssue, runs.LabelPR, runs.LabelKind, runs.LabelDelivery} {
		if !strings.HasPrefix(pr.Labels[l], "$(tt.params.") {
			t.Errorf("label %s = %q, want a template param", l, pr.Labels[l])
		}
	}
	for _, a := range []string{runs.AnnotationRepo, runs.AnnotationKey} {
		if !strings.HasPrefix(pr.Annotations[a], "$(tt.params.") {
			t.Errorf("annotation %s = %q, want a template param", a, pr.Annotations[a])
		}
	}
	var names []string
	for _, p := range pr.Spec.Params {
		names = append(names, p.Name)
		if want := "$(tt.params." + p.Name + ")"; p.Value.StringVal != want {
			t.Errorf("PipelineRun param %s = %q, want %q", p.Name, p.Value.StringVal, want)
		}
	}
	if !slices.Equal(names, router.ParamNames) {
		t.Errorf("PipelineRun params %v, want the router's %v", names, router.ParamNames)
	}
	if got := pr.Spec.TaskRunTemplate.ServiceAccountName; got != rc.ServiceAccountName {
		t.Errorf("TriggerTemplate service account %q, controller's run-service-account %q", got, rc.ServiceAccountName)
	}
	// The direct endpoint (runs.Build) bounds runs and owns volumes like the template does.
	if pr.Spec.Timeouts == nil || pr.Spec.Timeouts.Pipeline == nil || pr.Spec.Timeouts.Pipeline.Duration != runs.PipelineTimeout {
		t.Errorf("TriggerTemplate timeouts %+v, want pipeline %s like runs.Build", pr.Spec.Timeouts, runs.PipelineTimeout)
	}
	if pt := pr.Spec.TaskRunTemplate.PodTemplate; pt == nil || pt.SecurityContext == nil || pt.SecurityContext.FSGroup == nil || *pt.SecurityContext.FSGroup != runs.RunFSGroup {
		t.Errorf("TriggerTemplate podTemplate %+v, want fsGroup %d like runs.Build", pt, runs.RunFSGroup)
	}
	for _, name := range pipelineNames {
		if !reflect.DeepEqual(pr.Spec.Workspaces, rc.WorkspacesFor(name)) {
			t.Errorf("TriggerTemplate workspaces differ from agentline-config's for %s:\n  template: %+v\n  config:   %+v", name, pr.Spec.Workspaces, rc.WorkspacesFor(name))
		}
	}

	// Template params: declared == used == bound.
	declared := map[string]bool{}
	tps, _, _ := unstructured.NestedSlice(tt.Object, "spec", "params")
	for _, p := range tps {
		declared[p.(map[string]any)["name"].(string)] = true
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\(tt\.params\.([a-z0-9-]+)\)`).FindAllStringSubmatch(string(raw), -1) {
		used[m[1]] = true
	}
	if !reflect.DeepEqual(declared, used) {
		t.Errorf("TriggerTemplate declares params %v but uses %v", sortedKeys(declared), sortedKeys(used))
	}
	tb := find(t, objs, "TriggerBinding", "agentline-route")
	bound := map[string]bool{}
	bps, _, _ := unstructured.NestedSlice(tb.Object, "spec", "params")
	extRE := regexp.MustCompile(`^\$\(extensions\.agentline\.(pipeline|run-name|key|labels\.(repo|issue|pr|kind|delivery)|params\.[a-z-]+)\)$`)
	for _, p := range bps {
		m := p.(map[string]any)
		bound[m["name"].(string)] = true
		if v, _ := m["value"].(string); !extRE.MatchString(v) {
			t.Errorf("TriggerBinding param %s = %q: not a field of the agentline route contract", m["name"], v)
		}
		if strings.HasPrefix(m["value"].(string), "$(extensions.agentline.params.") && !slices.Contains(router.ParamNames, strings.TrimSuffix(strings.TrimPrefix(m["value"].(string), "$(extensions.agentline.params."), ")")) {
			t.Errorf("TriggerBinding param %s reads %s: not a pipeline param", m["name"], m["value"])
		}
	}
	if !reflect.DeepEqual(declared, bound) {
		t.Errorf("TriggerBinding binds %v, TriggerTemplate declares %v", sortedKeys(bound), sortedKeys(declared))
	}

	// EventListener: core github interceptor with the configured webhook Secret, then agentline.
	el := find(t, objs, "EventListener", "agentline-github")
	find(t, objs, "ServiceAccount", mustString(t, el, "spec", "serviceAccountName"))
	trigs, _, _ := unstructured.NestedSlice(el.Object, "spec", "triggers")
	if len(trigs) != 1 {
		t.Fatalf("EventListener: want one trigger, got %d", len(trigs))
	}
	ics, _, _ := unstructured.NestedSlice(trigs[0].(map[string]any), "interceptors")
	var refs []string
	for _, ic := range ics {
		n, _, _ := unstructured.NestedString(ic.(map[string]any), "ref", "name")
		refs = append(refs, n)
	}
	if !slices.Equal(refs, []string{"github", "agentline"}) {
		t.Errorf("EventListener interceptors %v, want [github agentline]", refs)
	}
	if len(ics) > 0 {
		secretName := ""
		params, _, _ := unstructured.NestedSlice(ics[0].(map[string]any), "params")
		for _, p := range params {
			if p.(map[string]any)["name"] == "secretRef" {
				secretName, _, _ = unstructured.NestedString(p.(map[string]any), "value", "secretName")
			}
		}
		if secretName == "" || secretName != data["github-webhook-secret"] {
			t.Errorf("github interceptor secretRef %q, agentline-config github-webhook-secret %q", secretName, data["github-webhook-secret"])
		}
	}

	// ClusterInterceptor agentline points at the controller's Service port.
	ci := find(t, objs, "ClusterInterceptor", "agentline")
	if ci.GetLabels()["server/type"] != "https" {
		t.Errorf("ClusterInterceptor agentline: label server/type=https missing")
	}
	svcName := mustString(t, ci, "spec", "clientConfig", "service", "name")
	port, _, _ := unstructured.NestedInt64(ci.Object, "spec", "clientConfig", "service", "port")
	svc := find(t, objs, "Service", svcName)
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	ok := false
	for _, p := range ports {
		if n, _, _ := unstructured.NestedInt64(p.(map[string]any), "port"); n == port {
			ok = true
		}
	}
	if !ok {
		t.Errorf("ClusterInterceptor agentline: Service %s has no port %d", svcName, port)
	}

	// The Secrets the controller mounts are the ones the ConfigMap names.
	dep := find(t, objs, "Deployment", "agentline-controller")
	vols, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	var secrets []string
	for _, v := range vols {
		if s, ok, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); ok {
			secrets = append(secrets, s)
		}
	}
	for _, k := range []string{"github-token-secret", "github-webhook-secret"} {
		if !slices.Contains(secrets, data[k]) {
			t.Errorf("controller mounts Secrets %v, not agentline-config's %s %q", secrets, k, data[k])
		}
	}
}

func mustString(t *testing.T, o *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	s, ok, err := unstructured.NestedString(o.Object, fields...)
	if err != nil || !ok || s == "" {
		t.Fatalf("%s %s: %s missing", o.GetKind(), o.GetName(), strings.Join(fields, "."))
	}
	return s
}

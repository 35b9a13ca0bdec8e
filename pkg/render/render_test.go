package render

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/agentline/agentline/pkg/stackfile"

	"github.com/agentline/agentline/test/testfiles"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testfiles.Write(t, dir, files)
	return filepath.Join(dir, "services.yaml")
}

func load(t *testing.T, path, env string, slot int) *stackfile.Loaded {
	t.Helper()
	l, err := stackfile.Load(path, stackfile.LoadOptions{Env: env, Slot: slot, Environ: []string{}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return l
}

func names(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(s, ",")
}

const filterStack = `project: p
infrastructure:
  - name: Base
    manifests: [{path: cm.yaml}]
  - name: off
    when: '{{ eq .Env "nope" }}'
    manifests: [{path: cm.yaml}]
  - name: extra
    when: 'No'
    manifests: [{path: cm.yaml}]
services:
  - name: Alpha
    manifests: [{path: svc.yaml}]
  - name: beta
    when: '{{ ne .Env "prod" }}'
    manifests: [{path: svc.yaml}]
  - name: gamma
    when: '0'
    manifests: [{path: svc.yaml}]
`

var filterFiles = map[string]string{
	"services.yaml": filterStack,
	"cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-{{ .Env }}}\n",
	"svc.yaml":      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
}

func TestFiltersAndWhen(t *testing.T) {
	path := writeFiles(t, filterFiles)
	cases := []struct {
		name  string
		env   string
		f     Filters
		items string
		warn  string
	}{
		{"all", "dev", Filters{}, "Base,Alpha,beta", ""},
		{"when false", "prod", Filters{}, "Base,Alpha", ""},
		{"only services case-insensitive", "dev", Filters{OnlyServices: []string{"ALPHA"}}, "Base,Alpha", ""},
		{"skip services", "dev", Filters{SkipServices: []string{"alpha"}}, "Base,beta", ""},
		{"only infra", "dev", Filters{OnlyInfra: []string{"base"}}, "Base,Alpha,beta", ""},
		{"skip infra", "dev", Filters{SkipInfra: []string{"BASE"}}, "Alpha,beta", ""},
		{"only wins over when", "dev", Filters{OnlyServices: []string{"gamma"}}, "Base", ""},
		{"unknown name warns", "dev", Filters{SkipInfra: []string{"nope"}}, "Base,Alpha,beta", `--skip-infra: no item named "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Render(load(t, path, tc.env, 0), Options{Filters: tc.f})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range res.Items {
				got = append(got, it.Name)
			}
			if strings.Join(got, ",") != tc.items {
				t.Errorf("items = %v, want %s", got, tc.items)
			}
			if w := strings.Join(res.Warnings, "\n"); (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
				t.Errorf("warnings = %q, want %q", w, tc.warn)
			}
		})
	}
}

const svcStack = `project: p
images:
  app: {type: build, repository: reg/p/app}
  side: {type: external, from: docker.io/side:1, local: reg/mirror/side:1}
services:
  - name: app
    manifests: [{path: app.yaml}]
    image: {repository: reg/p/app, tagTemplate: '{{ .Env }}-1'}
    overlays:
      ai:
        dropKinds: [ingress, ConfigMap]
        pvcMounts:
          - {name: ws, claimName: 'p-ws', mountPath: /ws, subPath: 'slots/{{ .Slot }}', readOnly: true}
          - {name: cache, claimName: c, mountPath: /cache}
  - name: notag
    manifests: [{path: notag.yaml}]
    image: {repository: reg/p/notag, tagTemplate: '{{ if false }}x{{ end }}'}
`

const appYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      initContainers:
        - {name: same, image: old:1}
        - {name: empty}
        - {name: other, image: busybox}
      containers:
        - name: main
          image: old:1
          volumeMounts: [{name: ws, mountPath: /before}, {name: keep, mountPath: /keep}]
        - {name: sidecar, image: reg/mirror/side:1}
      volumes: [{name: ws, emptyDir: {}}, {name: keep, emptyDir: {}}]
---
# empty documents are dropped
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other}
spec: {template: {spec: {containers: [{name: c, image: untouched}]}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: explicit}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: app-role}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
`

func renderSvc(t *testing.T, env string, slot int, scope Scope) *Result {
	t.Helper()
	path := writeFiles(t, map[string]string{
		"services.yaml": svcStack,
		"app.yaml":      appYAML,
		"notag.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: notag}\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}\n",
	})
	res, err := Render(load(t, path, env, slot), Options{Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s/%s not rendered (have %s)", kind, name, names(objs))
	return nil
}

func TestServiceRules(t *testing.T) {
	dev := renderSvc(t, "dev", 0, nil).Objects()
	if got := names(dev); got != "Deployment/app,Deployment/other,Ingress/app,ConfigMap/app,ClusterRole/app-role,Widget/w,Deployment/notag" {
		t.Errorf("dev objects = %s", got)
	}
	ai := renderSvc(t, "ai", 3, nil)
	objs := ai.Objects()
	if got := names(objs); got != "Deployment/app,Deployment/other,ClusterRole/app-role,Widget/w,Deployment/notag" {
		t.Errorf("dropKinds (case-insensitive): objects = %s", got)
	}
	// Namespace injection: set when unset, kept when set, never for cluster-scoped kinds.
	for _, tc := range []struct{ kind, name, want string }{
		{"Deployment", "app", "p-dev-3"}, {"Widget", "w", "p-dev-3"}, {"ClusterRole", "app-role", ""},
	} {
		if got := find(t, objs, tc.kind, tc.name).GetNamespace(); got != tc.want {
			t.Errorf("%s/%s namespace = %q, want %q", tc.kind, tc.name, got, tc.want)
		}
	}
	if got := find(t, dev, "ConfigMap", "app").GetNamespace(); got != "explicit" {
		t.Errorf("explicit namespace overwritten: %q", got)
	}

	app := find(t, objs, "Deployment", "app")
	spec, _, _ := unstructured.NestedMap(app.Object, "spec", "template", "spec")
	cs, _ := containers(spec, "containers")
	inits, _ := containers(spec, "initContainers")
	want := map[string]string{"main": "reg/p/app:ai-1", "sidecar": "reg/mirror/side:1", "same": "reg/p/app:ai-1", "empty": "reg/p/app:ai-1", "other": "busybox"}
	for _, c := range append(cs, inits...) {
		if c["image"] != want[c["name"].(string)] {
			t.Errorf("container %s image = %v, want %s", c["name"], c["image"], want[c["name"].(string)])
		}
	}
	other, _, _ := unstructured.NestedSlice(find(t, objs, "Deployment", "other").Object, "spec", "template", "spec", "containers")
	if other[0].(map[string]any)["image"] != "untouched" {
		t.Errorf("a Deployment not named after the service was changed: %v", other)
	}
	notag, _, _ := unstructured.NestedSlice(find(t, objs, "Deployment", "notag").Object, "spec", "template", "spec", "containers")
	if notag[0].(map[string]any)["image"] != "reg/p/notag" {
		t.Errorf("empty tag: image = %v, want reg/p/notag", notag[0])
	}

	// pvcMounts: volumes replaced by name (appended), mounts in main + every init container.
	vols, _ := spec["volumes"].([]any)
	var volNames []string
	for _, v := range vols {
		volNames = append(volNames, v.(map[string]any)["name"].(string))
	}
	if strings.Join(volNames, ",") != "keep,ws,cache" {
		t.Errorf("volumes = %v", volNames)
	}
	if claim := vols[1].(map[string]any)["persistentVolumeClaim"].(map[string]any)["claimName"]; claim != "p-ws" || vols[1].(map[string]any)["emptyDir"] != nil {
		t.Errorf("ws volume = %v", vols[1])
	}
	for _, c := range append(cs[:1], inits...) {
		mounts, _ := c["volumeMounts"].([]any)
		var got []string
		for _, m := range mounts {
			mm := m.(map[string]any)
			got = append(got, mm["name"].(string)+":"+mm["mountPath"].(string))
			if mm["name"] == "ws" && (mm["subPath"] != "slots/3" || mm["readOnly"] != true) {
				t.Errorf("ws mount = %v", mm)
			}
			if mm["name"] == "cache" {
				if _, ok := mm["readOnly"]; ok {
					t.Errorf("cache mount has readOnly: %v", mm)
				}
			}
		}
		wantMounts := "ws:/ws,cache:/cache"
		if c["name"] == "main" {
			wantMounts = "keep:/keep,ws:/ws,cache:/cache"
		}
		if strings.Join(got, ",") != wantMounts {
			t.Errorf("container %s mounts = %v, want %s", c["name"], got, wantMounts)
		}
	}
	if _, ok := cs[1]["volumeMounts"]; ok {
		t.Errorf("second container got mounts: %v", cs[1])
	}
	// reg/p/notag is produced by no `images` entry; reg/p/app is.
	if len(ai.Warnings) != 1 || !strings.Contains(ai.Warnings[0], "service notag deploys image reg/p/notag") {
		t.Errorf("warnings = %v", ai.Warnings)
	}
}

type fakeScope map[string]bool

func (f fakeScope) Namespaced(gvk schema.GroupVersionKind) bool { return f[gvk.Kind] }

func TestScopeDecidesInjection(t *testing.T) {
	// A scope (e.g. discovery) that says Widget is cluster-scoped and ClusterRole namespaced wins
	// over the built-in list.
	objs := renderSvc(t, "ai", 1, fakeScope{"Deployment": true, "ClusterRole": true}).Objects()
	if ns := find(t, objs, "Widget", "w").GetNamespace(); ns != "" {
		t.Errorf("Widget namespace = %q, want none", ns)
	}
	if ns := find(t, objs, "ClusterRole", "app-role").GetNamespace(); ns != "p-dev-1" {
		t.Errorf("ClusterRole namespace = %q", ns)
	}
	if !(BuiltinScope{}).Namespaced(schema.GroupVersionKind{Group: "example.com", Kind: "Widget"}) ||
		(BuiltinScope{}).Namespaced(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "ClusterIssuer"}) {
		t.Error("BuiltinScope answers wrong")
	}
	if (MapperScope{}).Namespaced(schema.GroupVersionKind{Kind: "Namespace"}) {
		t.Error("MapperScope without mapper must fall back to the built-in list")
	}
}

func TestInfraEmittedAsIs(t *testing.T) {
	path := writeFiles(t, map[string]string{
		"services.yaml": "project: p\ninfrastructure: [{name: i, manifests: [{path: a.yaml}]}]\n",
		"a.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
	})
	res, err := Render(load(t, path, "dev", 0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := res.Objects()[0].GetNamespace(); ns != "" {
		t.Errorf("infrastructure object got namespace %q", ns)
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		name, manifest, want string
	}{
		{"template error names file", "kind: {{ nosuch }}", "bad.yaml"},
		{"not a mapping", "- a\n- b\n", "want a Kubernetes object"},
		{"missing kind", "apiVersion: v1\nmetadata: {name: x}\n", "kind: required"},
		{"missing name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name: required"},
		{"bad yaml", "a: [\n", "document 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFiles(t, map[string]string{
				"services.yaml": "project: p\nservices: [{name: s, manifests: [{path: bad.yaml}]}]\n",
				"bad.yaml":      tc.manifest,
			})
			_, err := Render(load(t, path, "dev", 0), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "service s") {
				t.Errorf("err = %v, want it to contain %q and the service", err, tc.want)
			}
		})
	}
}

func TestSecretMasking(t *testing.T) {
	objs, err := DecodeManifests("s", []byte(`apiVersion: v1
kind: Secret
metadata: {name: s}
data: {a: c2VjcmV0}
stringData: {b: hunter2}
`))
	if err != nil {
		t.Fatal(err)
	}
	var masked, clear bytes.Buffer
	if err := WriteYAML(&masked, objs, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteYAML(&clear, objs, true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(masked.String(), "hunter2") || strings.Contains(masked.String(), "c2VjcmV0") || strings.Count(masked.String(), Masked) != 2 {
		t.Errorf("masked output leaks or lacks masks:\n%s", masked.String())
	}
	if !strings.Contains(clear.String(), "hunter2") || !strings.Contains(clear.String(), "c2VjcmV0") {
		t.Errorf("--show-secrets output lacks values:\n%s", clear.String())
	}
	if s, _, _ := unstructured.NestedString(objs[0].Object, "stringData", "b"); s != "hunter2" {
		t.Error("masking modified the object itself")
	}
}

func TestDecodeScalars(t *testing.T) {
	objs, err := DecodeManifests("x", []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: x, labels: {a: "1"}}
base: &b {k: v}
spec:
  <<: *b
  int: 42
  hex: 0x10
  float: 1.5
  bool: true
  null: ~
  str: "007"
  date: 2024-01-02
`))
	if err != nil {
		t.Fatal(err)
	}
	spec := objs[0].Object["spec"].(map[string]any)
	want := map[string]any{"k": "v", "int": int64(42), "hex": int64(16), "float": 1.5, "bool": true, "null": nil, "str": "007", "date": "2024-01-02"}
	for k, v := range want {
		if spec[k] != v {
			t.Errorf("spec.%s = %#v, want %#v", k, spec[k], v)
		}
	}
	// DeepCopy panics on non-JSON types; it must not.
	_ = objs[0].DeepCopy()
}

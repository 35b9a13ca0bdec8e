package tekton_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// clusterScoped are the kinds of the install that have no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"ClusterInterceptor": true, "ClusterTriggerBinding": true,
}

// kustomization is the subset of kustomize's Kustomization that agentline's install uses.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
}

// build resolves dir/kustomization.yaml like `kubectl kustomize` does for the features the
// install uses (resources: files and folders with their own kustomization; namespace: set on
// every namespaced object). Any other field is an error, so the install cannot silently depend
// on a feature this loader ignores.
func build(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	path := filepath.Join(dir, "kustomization.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("%s: %v (only apiVersion, kind, namespace and resources are supported)", path, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: resource %s: %v", path, r, err)
		}
		if st.IsDir() {
			out = append(out, build(t, p)...)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitDocs(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, d := range docs {
			var m map[string]any
			if err := yaml.Unmarshal(d, &m); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			o := &unstructured.Unstructured{Object: m}
			o.SetAnnotations(mergeMap(o.GetAnnotations(), map[string]string{sourceAnnotation: rel(t, p)}))
			out = append(out, o)
		}
	}
	if k.Namespace != "" {
		for _, o := range out {
			if !clusterScoped[o.GetKind()] {
				o.SetNamespace(k.Namespace)
			}
		}
	}
	return out
}

// sourceAnnotation records, in tests only, which file an object came from (for messages).
const sourceAnnotation = "test.agentline.dev/source"

func rel(t testing.TB, p string) string {
	r, err := filepath.Rel(repoRoot(t), p)
	if err != nil {
		return p
	}
	return r
}

func mergeMap(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// find returns the one object of kind/name in objs.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var hits []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			hits = append(hits, o)
		}
	}
	if len(hits) != 1 {
		t.Fatalf("want exactly one %s %s in the install, got %d", kind, name, len(hits))
	}
	return hits[0]
}

// placeholderImages replaces ko:// references by plain image names: nothing is pulled on the
// kwok node, and the API server would accept ko:// anyway, but Tekton must see ordinary refs.
func placeholderImages(o *unstructured.Unstructured) error {
	b, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	s := strings.ReplaceAll(string(b), "ko://"+modulePath+"/cmd/", "registry.invalid/agentline/")
	if strings.Contains(s, "ko://") {
		return fmt.Errorf("%s %s: ko:// reference outside %s/cmd", o.GetKind(), o.GetName(), modulePath)
	}
	return o.UnmarshalJSON([]byte(s))
}

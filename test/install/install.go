// Package install builds agentline's install (config/, with tasks/, pipelines/ and triggers/)
// into objects the way `kubectl kustomize config/` does, for the features the install uses, so
// tests and the demo can install it without shelling out to kubectl or kustomize.
package install

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// SourceAnnotation records which file (relative to the root given to Build) an object came from.
// Build sets it for messages; Strip removes it before the objects are applied.
const SourceAnnotation = "install.agentline.dev/source"

// ClusterScoped are the kinds of the install that have no namespace.
var ClusterScoped = map[string]bool{
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

// Build resolves dir/kustomization.yaml like `kubectl kustomize` does for the features the
// install uses (resources: files and folders with their own kustomization; namespace: set on
// every namespaced object). Any other field is an error, so the install cannot silently depend
// on a feature this loader ignores. Objects carry SourceAnnotation relative to root.
func Build(root, dir string) ([]*unstructured.Unstructured, error) {
	path := filepath.Join(dir, "kustomization.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		return nil, fmt.Errorf("%s: %w (only apiVersion, kind, namespace and resources are supported)", path, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: resource %s: %w", path, r, err)
		}
		if st.IsDir() {
			objs, err := Build(root, p)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		docs, err := SplitDocs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		src, err := filepath.Rel(root, p)
		if err != nil {
			src = p
		}
		for _, d := range docs {
			var m map[string]any
			if err := yaml.Unmarshal(d, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			o := &unstructured.Unstructured{Object: m}
			ann := o.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[SourceAnnotation] = src
			o.SetAnnotations(ann)
			out = append(out, o)
		}
	}
	if k.Namespace != "" {
		for _, o := range out {
			if !ClusterScoped[o.GetKind()] {
				o.SetNamespace(k.Namespace)
			}
		}
	}
	return out, nil
}

// Strip removes SourceAnnotation from every object (before they are applied).
func Strip(objs []*unstructured.Unstructured) {
	for _, o := range objs {
		ann := o.GetAnnotations()
		delete(ann, SourceAnnotation)
		if len(ann) == 0 {
			ann = nil
		}
		o.SetAnnotations(ann)
	}
}

// SplitDocs splits a multi-document YAML stream into its non-empty documents (raw YAML).
func SplitDocs(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			out = append(out, doc)
		}
	}
}

// Package render turns a loaded stack file into Kubernetes objects (spec section 4), prints them,
// applies them with server-side apply, waits for readiness, destroys them and runs hooks.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// maxNodes bounds the work of converting one document (alias expansion can blow up).
const maxNodes = 1 << 20

// DecodeManifests splits a multi-document YAML stream into objects; name appears in errors.
// Empty documents are dropped; every other document must be a mapping with apiVersion, kind and
// metadata.name (or metadata.generateName).
func DecodeManifests(name string, data []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: document %d: want a Kubernetes object (a mapping)", name, root.Line, i)
		}
		budget := maxNodes
		v, err := convert(root, &budget, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		obj := &unstructured.Unstructured{Object: v.(map[string]any)}
		if len(obj.Object) == 0 {
			continue
		}
		if err := checkObject(obj); err != nil {
			return nil, fmt.Errorf("%s:%d: document %d: %w", name, root.Line, i, err)
		}
		out = append(out, obj)
	}
}

func checkObject(obj *unstructured.Unstructured) error {
	for _, f := range []string{"apiVersion", "kind"} {
		if s, ok := obj.Object[f].(string); !ok || s == "" {
			return fmt.Errorf("%s: required (a non-empty string)", f)
		}
	}
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		return fmt.Errorf("metadata: required (a mapping)")
	}
	for _, f := range []string{"name", "namespace", "generateName"} {
		if v, ok := md[f]; ok && v != nil {
			if _, isStr := v.(string); !isStr {
				return fmt.Errorf("metadata.%s: want a string", f)
			}
		}
	}
	if obj.GetName() == "" && obj.GetGenerateName() == "" {
		return fmt.Errorf("metadata.name: required")
	}
	for _, f := range []string{"labels", "annotations"} {
		if v, ok := md[f]; ok && v != nil {
			m, isMap := v.(map[string]any)
			if !isMap {
				return fmt.Errorf("metadata.%s: want a mapping", f)
			}
			for k, lv := range m {
				if _, isStr := lv.(string); !isStr {
					return fmt.Errorf("metadata.%s.%s: want a string", f, k)
				}
			}
		}
	}
	return nil
}

// convert turns a YAML node into JSON-compatible values (map[string]any, []any, string, int64,
// float64, bool, nil), the types unstructured objects require.
func convert(n *yaml.Node, budget *int, depth int) (any, error) {
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("line %d: document too large (alias expansion?)", n.Line)
	}
	if depth > 200 {
		return nil, fmt.Errorf("line %d: nesting too deep", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convert(n.Content[0], budget, depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		return convert(n.Alias, budget, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		var merges []map[string]any
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			v, err := convert(vn, budget, depth+1)
			if err != nil {
				return nil, err
			}
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				switch m := v.(type) {
				case map[string]any:
					merges = append(merges, m)
				case []any:
					for _, e := range m {
						if em, ok := e.(map[string]any); ok {
							merges = append(merges, em)
						}
					}
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be scalars", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q defined twice", k.Line, k.Value)
			}
			out[k.Value] = v
		}
		for _, m := range merges {
			for k, v := range m {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i
		}
		if len(s) > 1 && s[0] == '0' && !strings.ContainsAny(s[1:2], "xXoObB") {
			if i, err := strconv.ParseInt(s[1:], 8, 64); err == nil {
				return i
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(n.Value, ".eE") {
				return int64(f)
			}
			return f
		}
	}
	return n.Value
}

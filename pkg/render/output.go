package render

import (
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Masked replaces Secret values in printed output.
const Masked = "*****"

// WriteYAML writes objs as one multi-document YAML stream (keys sorted, so the output is stable).
// Secret data and stringData values are replaced by Masked unless showSecrets is set.
func WriteYAML(w io.Writer, objs []*unstructured.Unstructured, showSecrets bool) error {
	for i, o := range objs {
		obj := o
		if !showSecrets {
			obj = MaskSecret(o)
		}
		b, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("marshal %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// MaskSecret returns o unchanged unless it is a core/v1 Secret; then it returns a copy whose data
// and stringData values are Masked.
func MaskSecret(o *unstructured.Unstructured) *unstructured.Unstructured {
	if o.GetKind() != "Secret" || o.GetAPIVersion() != "v1" {
		return o
	}
	c := o.DeepCopy()
	for _, f := range []string{"data", "stringData"} {
		m, ok := c.Object[f].(map[string]any)
		if !ok {
			if c.Object[f] != nil {
				c.Object[f] = Masked
			}
			continue
		}
		for k := range m {
			m[k] = Masked
		}
	}
	return c
}

package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentline/agentline/test/shared"
)

// FuzzDecodeManifests feeds any bytes to the manifest decoder: it may fail, never panic, and
// whatever it accepts must print and decode again to the same number of objects. Seeds live in
// testdata/fuzz/FuzzDecodeManifests (plus the shopfront renders).
func FuzzDecodeManifests(f *testing.F) {
	dir := shared.Shopfront(f)
	for _, p := range []string{"expected/ai-slot2.yaml", "services/api/deploy.yaml"} {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeManifests("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, o := range objs {
			_ = o.DeepCopy() // panics on values that are not JSON-compatible
			if o.GetKind() == "" || o.GetAPIVersion() == "" {
				t.Fatalf("accepted an object without kind/apiVersion: %v", o.Object)
			}
		}
		var buf bytes.Buffer
		if err := WriteYAML(&buf, objs, false); err != nil {
			return // e.g. NaN has no JSON form
		}
		back, err := DecodeManifests("printed.yaml", buf.Bytes())
		if err != nil {
			t.Fatalf("printed output does not decode: %v\n%s", err, buf.String())
		}
		if len(back) != len(objs) {
			t.Fatalf("printed %d objects, decoded %d", len(objs), len(back))
		}
	})
}

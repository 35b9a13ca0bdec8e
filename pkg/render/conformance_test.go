package render

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/agentline/agentline/pkg/stackfile"

	"github.com/agentline/agentline/test/shared"
)

// shopfrontDir is the contract's sample stack and its reference renders (shared material).
func shopfrontDir(t testing.TB) string {
	t.Helper()
	return shared.Shopfront(t)
}

func loadShopfront(t testing.TB, env string, slot int) *stackfile.Loaded {
	t.Helper()
	l, err := stackfile.Load(filepath.Join(shopfrontDir(t), "services.yaml"), stackfile.LoadOptions{
		Env: env, Slot: slot, Environ: []string{}, Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		t.Fatalf("load shopfront %s: %v", env, err)
	}
	return l
}

// normalize round-trips objects through JSON so both sides compare with the same types.
func normalize(t *testing.T, objs []*unstructured.Unstructured) []any {
	t.Helper()
	var out []any
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// compareExpected compares objs with expected/<file> as parsed objects, in order, and returns
// the normalized expected objects.
func compareExpected(t *testing.T, objs []*unstructured.Unstructured, file string) []any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(shopfrontDir(t), "expected", file))
	if err != nil {
		t.Fatal(err)
	}
	want, err := DecodeManifests(file, data)
	if err != nil {
		t.Fatalf("decode expected: %v", err)
	}
	got := normalize(t, objs)
	w := normalize(t, want)
	if len(got) != len(w) {
		t.Errorf("got %d objects, want %d", len(got), len(w))
	}
	for i := 0; i < len(got) && i < len(w); i++ {
		if !reflect.DeepEqual(got[i], w[i]) {
			g, _ := yaml.Marshal(got[i])
			e, _ := yaml.Marshal(w[i])
			t.Errorf("object %d differs:\n--- got\n%s--- want\n%s", i, g, e)
		}
	}
	return w
}

func TestConformanceShopfront(t *testing.T) {
	cases := []struct {
		env      string
		slot     int
		expected string
	}{
		{"dev", 0, "dev.yaml"},
		{"ai-staging", 0, "ai-staging.yaml"},
		{"ai", 2, "ai-slot2.yaml"},
		{"ai-repair", 0, "ai-repair.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.expected, func(t *testing.T) {
			l := loadShopfront(t, tc.env, tc.slot)
			if len(l.Warnings) != 0 {
				t.Errorf("unexpected load warnings: %v", l.Warnings)
			}
			res, err := Render(l, Options{})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("unexpected render warnings: %v", res.Warnings)
			}
			w := compareExpected(t, res.Objects(), tc.expected)
			// The printed stream (--show-secrets) parses back to the same objects.
			var buf bytes.Buffer
			if err := WriteYAML(&buf, res.Objects(), true); err != nil {
				t.Fatal(err)
			}
			back, err := DecodeManifests("printed", buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(t, back), w) {
				t.Errorf("printed stream (--show-secrets) does not parse back to the expected objects")
			}
		})
	}
}

package stackfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/test/shared"
)

// FuzzLoad feeds any bytes as services.yaml: Load may fail, never panic or hang. Seeds live in
// testdata/fuzz/FuzzLoad (plus the shopfront example).
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(shared.Shopfront(f), "services.yaml")); err == nil {
		f.Add(b, "ai", 2)
	}
	f.Add([]byte("project: p\nservices: [{name: a, when: '{{ eq .Env \"dev\" }}'}]\n"), "dev", 0)
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.env"), []byte("K=v\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, env string, slot int) {
		// A template may legitimately loop for a long time ({{ range N }}); that is the team's
		// own file, not a crash, so such inputs are not interesting here.
		if strings.Contains(string(data), "range") || len(data) > 1<<16 {
			t.Skip()
		}
		if env == "" {
			env = "dev"
		}
		l, err := LoadBytes(filepath.Join(dir, "services.yaml"), data, LoadOptions{
			Env: env, Slot: slot, Environ: []string{"A=b"}, Now: time.Unix(0, 0),
		})
		if err != nil {
			return
		}
		if l.Stack == nil || l.Context == nil || l.Stack.Project == "" {
			t.Fatalf("loaded without project or context: %+v", l)
		}
		_, _ = l.SlotNamespace(1)
		for _, s := range l.Stack.Services {
			_, _ = l.When("w", s.When)
		}
	})
}

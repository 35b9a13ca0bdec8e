// Package testfiles writes small file trees for tests.
package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

// Write writes files (slash-separated path -> content) under dir, creating folders as needed.
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

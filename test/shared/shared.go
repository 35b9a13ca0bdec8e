// Package shared locates the project's shared material (spec, examples, webhook payloads) that
// lives beside the repository checkout as ../shared, or where AGENTLINE_SHARED points.
package shared

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// EnvDir overrides the shared folder's location.
const EnvDir = "AGENTLINE_SHARED"

// Dir returns the shared folder: $AGENTLINE_SHARED, else the first ../shared found walking up
// from the working directory.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "..", "shared")
		if st, err := os.Stat(filepath.Join(cand, "testdata", "github-webhooks")); err == nil && st.IsDir() {
			return filepath.Clean(cand), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("shared folder not found: expected ../shared beside the checkout (or set " + EnvDir + ")")
		}
		dir = parent
	}
}

// Path joins parts onto the shared folder, failing the test when the folder or file is missing.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	d, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(append([]string{d}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared file missing: %v", err)
	}
	return p
}

// Webhook returns the bytes of a webhook payload from testdata/github-webhooks (name without
// .json, e.g. "issues.labeled").
func Webhook(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(Path(t, "testdata", "github-webhooks", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Shopfront returns the folder of the sample stack examples/shopfront (services.yaml, manifests
// and the reference renders under expected/).
func Shopfront(t testing.TB) string {
	t.Helper()
	return Path(t, "examples", "shopfront")
}

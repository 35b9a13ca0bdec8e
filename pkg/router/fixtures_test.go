package router

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureDir holds copies of /work/shared/testdata/github-webhooks (octokit's examples).
const fixtureDir = "testdata/github-webhooks"

// fixture loads a payload file and applies overrides: each key is a dotted path into the JSON
// ("issue.labels.0.name"); a nil value deletes the field.
func fixture(t testing.TB, name string, overrides map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	for path, v := range overrides {
		setPath(t, doc, path, v)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("marshal fixture %s: %v", name, err)
	}
	return out
}

func setPath(t testing.TB, doc map[string]any, path string, v any) {
	t.Helper()
	parts := strings.Split(path, ".")
	var cur any = doc
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if v == nil {
					delete(c, p)
				} else {
					c[p] = v
				}
				return
			}
			next, ok := c[p]
			if !ok || next == nil {
				next = map[string]any{}
				c[p] = next
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(c) {
				t.Fatalf("override %q: bad index %q", path, p)
			}
			if last {
				c[idx] = v
				return
			}
			cur = c[idx]
		default:
			t.Fatalf("override %q: %q is not an object or array", path, p)
		}
	}
}

// eventOf returns the X-GitHub-Event of a fixture file name (`<event>.<variant>.json`).
func eventOf(name string) string {
	ev, _, _ := strings.Cut(name, ".")
	return ev
}

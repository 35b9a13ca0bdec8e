package router

import (
	"strings"
	"testing"

	"github.com/agentline/agentline/test/fakegithub"
)

// fixture loads one of octokit's example payloads from the shared material and applies
// overrides: each key is a dotted path into the JSON ("issue.labels.0.name"); a nil value
// deletes the field.
func fixture(t testing.TB, name string, overrides map[string]any) []byte {
	t.Helper()
	over := make(map[string]any, len(overrides))
	for k, v := range overrides {
		if v == nil {
			v = fakegithub.Delete
		}
		over[k] = v
	}
	b, err := fakegithub.Payload(strings.TrimSuffix(name, ".json"), over)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// eventOf returns the X-GitHub-Event of a fixture file name (`<event>.<variant>.json`).
func eventOf(name string) string { return fakegithub.EventOf(name) }

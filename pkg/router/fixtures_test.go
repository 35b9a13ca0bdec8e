package router

import (
	"testing"

	"github.com/agentline/agentline/test/fakegithub"
)

// fixture loads one of octokit's example payloads from the shared material and applies
// overrides: each key is a dotted path into the JSON ("issue.labels.0.name"); a nil value
// deletes the field.
func fixture(t testing.TB, name string, overrides map[string]any) []byte {
	t.Helper()
	return fakegithub.MustPayload(t, name, overrides)
}

// eventOf returns the X-GitHub-Event of a fixture file name (`<event>.<variant>.json`).
func eventOf(name string) string { return fakegithub.EventOf(name) }

package demo

import (
	"fmt"
	"strings"

	"github.com/agentline/agentline/test/scriptedmodel"
)

// The scripted model's sessions. Each is the commands a careful engineer would run, executed
// for real by the Codex CLI in the slot's checkout: read, edit, test, then a summary.
var (
	devSession = []string{
		`cat AGENTS.md && sed -n '1,60p' services/api/main.go && ls services/api`,
		`cd services/api && cat > version.go <<'EOF'
package main

import "net/http"

// Version is the API's release, reported by GET /version.
var Version = "1.4.0"

func version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"version": Version})
}
EOF
cat > version_test.go <<'EOF'
package main

import "testing"

func TestVersion(t *testing.T) {
	var got map[string]string
	get(t, "/version", &got)
	if got["version"] != Version {
		t.Fatalf("GET /version = %v, want version %s", got, Version)
	}
}
EOF
{ grep -q '"/version"' main.go || sed -i 's#^\(.*\)mux.HandleFunc("/products", products)$#&\n\1mux.HandleFunc("/version", version)#' main.go; } && git status --short`,
		`cd services/api && test -z "$(gofmt -l .)" && go vet ./... && go test ./... 2>&1`,
	}
	devSummary = "Added `GET /version` to the api service.\n\n" +
		"- `services/api/version.go`: the handler answers `{\"version\": \"1.4.0\"}` (the `Version` variable).\n" +
		"- `services/api/main.go`: the route is registered next to `/products`.\n" +
		"- `services/api/version_test.go`: a test for the new endpoint.\n\n" +
		"`gofmt`, `go vet ./...` and `go test ./...` in services/api are clean."

	reviewSession = []string{
		`cd services/api && cat version.go`,
		`cd services/api && cat > version.go <<'EOF'
package main

import (
	"net/http"
	"runtime"
)

// Version is the API's release, reported by GET /version.
var Version = "1.4.0"

func version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"version": Version, "goVersion": runtime.Version()})
}
EOF
sed -i 's#got\["version"\] != Version {#got["version"] != Version || got["goVersion"] == "" {#' version_test.go && git diff --stat`,
		`cd services/api && test -z "$(gofmt -l .)" && go vet ./... && go test ./... 2>&1`,
	}
	reviewSummary = "Addressed the review: `/version` now also reports `goVersion` (`runtime.Version()`), " +
		"and the test checks it. `go test ./...` passes."
)

// Play is the scripted model's answer to one request: it finds which session the conversation
// is (a review answer mentions the review's request) and how far the current turn got (the
// commands already run since the last user message), and plays the next step.
func Play(req scriptedmodel.Request) scriptedmodel.Step {
	input, _ := req.Parsed["input"].([]any)
	lastUser, done, lastOutput := -1, 0, ""
	for i, it := range input {
		m, _ := it.(map[string]any)
		if m["role"] == "user" {
			lastUser, done = i, 0
		}
		if m["type"] == "function_call_output" && i > lastUser {
			done++
			lastOutput = scriptedmodel.Request{Parsed: map[string]any{"o": m["output"]}}.Text()
		}
	}
	userText := ""
	if lastUser >= 0 {
		userText = scriptedmodel.Request{Parsed: map[string]any{"input": input[lastUser : lastUser+1]}}.InputText()
	}
	session, summary, name := devSession, devSummary, "dev"
	if strings.Contains(userText, "goVersion") {
		session, summary, name = reviewSession, reviewSummary, "review"
	}
	usage := scriptedmodel.Usage{InputTokens: 1200 + 400*done, OutputTokens: 150}
	if done < len(session) {
		return scriptedmodel.Step{Usage: usage, Items: []scriptedmodel.Item{
			scriptedmodel.ExecCommand(fmt.Sprintf("call_%s_%d", name, done+1), session[done]),
		}}
	}
	// The last command ran the checks: report what really happened.
	if strings.Contains(lastOutput, "FAIL") || strings.Contains(lastOutput, "panic:") {
		summary = "The change is in place, but the checks in services/api fail:\n\n```\n" + strings.TrimSpace(lastOutput) + "\n```"
	}
	return scriptedmodel.Step{Usage: usage, Items: []scriptedmodel.Item{scriptedmodel.Message(summary)}}
}

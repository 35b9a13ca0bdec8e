package demo

import (
	"strings"
	"testing"

	"github.com/agentline/agentline/test/scriptedmodel"
)

func user(text string) map[string]any {
	return map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}}}
}

func output(text string) map[string]any {
	return map[string]any{"type": "function_call_output", "call_id": "c", "output": text}
}

func play(input ...any) scriptedmodel.Step {
	return Play(scriptedmodel.Request{Parsed: map[string]any{"input": input}})
}

func command(t *testing.T, s scriptedmodel.Step) string {
	t.Helper()
	if len(s.Items) != 1 || s.Items[0]["name"] != "exec_command" {
		t.Fatalf("want one exec_command, got %v", s.Items)
	}
	return s.Items[0]["arguments"].(string)
}

func message(t *testing.T, s scriptedmodel.Step) string {
	t.Helper()
	if len(s.Items) != 1 || s.Items[0]["type"] != "message" {
		t.Fatalf("want one message, got %v", s.Items)
	}
	return s.Items[0]["content"].([]any)[0].(map[string]any)["text"].(string)
}

func TestPlayDevSession(t *testing.T) {
	issue := user("Issue #1: Add a /version endpoint")
	if c := command(t, play(issue)); !strings.Contains(c, "AGENTS.md") {
		t.Errorf("first step should read AGENTS.md: %s", c)
	}
	if c := command(t, play(issue, output("..."))); !strings.Contains(c, "version.go") {
		t.Errorf("second step should write version.go: %s", c)
	}
	if c := command(t, play(issue, output("..."), output("..."))); !strings.Contains(c, "go test") {
		t.Errorf("third step should run the tests: %s", c)
	}
	if m := message(t, play(issue, output("..."), output("..."), output("ok  \tshopfront/api\t0.01s"))); !strings.Contains(m, "GET /version") {
		t.Errorf("summary: %s", m)
	}
	// Failing checks are reported, not glossed over.
	m := message(t, play(issue, output("..."), output("..."), output("--- FAIL: TestVersion\nFAIL\tshopfront/api")))
	if !strings.Contains(m, "fail") || !strings.Contains(m, "TestVersion") {
		t.Errorf("summary after failing tests: %s", m)
	}
}

func TestPlayReviewSessionResumesAfterTheDevOne(t *testing.T) {
	// A resumed session carries the dev turn; the new user message is the review.
	history := []any{user("Issue #1"), output("a"), output("b"), output("c"), user("Review: " + ReviewComment)}
	if c := command(t, play(history...)); !strings.Contains(c, "cat version.go") {
		t.Errorf("first review step should read version.go: %s", c)
	}
	if c := command(t, play(append(history, output("x"))...)); !strings.Contains(c, "goVersion") {
		t.Errorf("second review step should add goVersion: %s", c)
	}
	if m := message(t, play(append(history, output("x"), output("y"), output("ok"))...)); !strings.Contains(m, "goVersion") {
		t.Errorf("review summary: %s", m)
	}
}

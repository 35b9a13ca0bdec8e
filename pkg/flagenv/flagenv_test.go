package flagenv

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func newFS() (*flag.FlagSet, *string, *int, *time.Duration, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := fs.String("env", "dev", "")
	slot := fs.Int("slot", 0, "")
	wait := fs.Duration("wait-timeout", time.Minute, "")
	model := fs.String("model", "", "")
	return fs, env, slot, wait, model
}

func TestEnvSuppliesFlagsAndExplicitWins(t *testing.T) {
	fs, env, slot, wait, model := newFS()
	environ := []string{"AGENTLINE_ENV=ai", "AGENTLINE_SLOT=3", "AGENTLINE_WAIT_TIMEOUT=5s", "AGENTLINE_MODEL=m"}
	if err := Parse(fs, []string{"--env", "ai-staging"}, environ, "model"); err != nil {
		t.Fatal(err)
	}
	if *env != "ai-staging" {
		t.Errorf("explicit flag must win: env=%q", *env)
	}
	if *slot != 3 || *wait != 5*time.Second {
		t.Errorf("env must supply unset flags: slot=%d wait=%s", *slot, *wait)
	}
	if *model != "" {
		t.Errorf("skipped flag read from env: model=%q", *model)
	}
}

func TestEmptyVariableKeepsDefault(t *testing.T) {
	fs, env, _, _, _ := newFS()
	if err := Parse(fs, nil, []string{"AGENTLINE_ENV="}); err != nil {
		t.Fatal(err)
	}
	if *env != "dev" {
		t.Errorf("env=%q, want default", *env)
	}
}

func TestBadValueNamesVariable(t *testing.T) {
	fs, _, _, _, _ := newFS()
	err := Parse(fs, nil, []string{"AGENTLINE_SLOT=two"})
	if err == nil || !strings.Contains(err.Error(), `AGENTLINE_SLOT="two"`) {
		t.Fatalf("want an error naming AGENTLINE_SLOT, got %v", err)
	}
}

func TestLookupLastWins(t *testing.T) {
	v, ok := Lookup([]string{"A=1", "B=2", "A=3"}, "A")
	if !ok || v != "3" {
		t.Fatalf("Lookup = %q,%v", v, ok)
	}
	if _, ok := Lookup([]string{"AB=1"}, "A"); ok {
		t.Fatal("prefix must not match")
	}
}

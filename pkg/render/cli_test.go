package render

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCLIEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"AGENTLINE_ENV":           "ai",
		"AGENTLINE_SLOT":          "3",
		"AGENTLINE_ONLY_SERVICES": "api, web",
		"AGENTLINE_SHOW_SECRETS":  "true",
		"AGENTLINE_VARS":          "a=1,b=2",
		"AGENTLINE_RESULTS_DIR":   "/tmp/r",
		"AGENTLINE_WAIT_TIMEOUT":  "90s",
	}
	getenv := func(k string) string { return env[k] }
	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, c *CLI)
	}{
		{"env supplies flags", []string{"template"}, func(t *testing.T, c *CLI) {
			if c.Env != "ai" || c.Slot != 3 || !c.ShowSecrets || c.ResultsDir != "/tmp/r" || c.WaitTimeout.Seconds() != 90 {
				t.Errorf("cli = %+v", c)
			}
			if strings.Join(c.OnlyServices, "|") != "api|web" || c.Vars["b"] != "2" {
				t.Errorf("lists = %v %v", c.OnlyServices, c.Vars)
			}
		}},
		{"explicit flags win", []string{"apply", "--env", "dev", "--slot=0", "--only-services", "worker", "--show-secrets=false"}, func(t *testing.T, c *CLI) {
			if c.Command != "apply" || c.Env != "dev" || c.Slot != 0 || c.ShowSecrets || strings.Join(c.OnlyServices, ",") != "worker" {
				t.Errorf("cli = %+v", c)
			}
			if c.Slot != 0 {
				t.Error("an explicit --slot=0 must beat AGENTLINE_SLOT")
			}
		}},
		{"defaults", []string{"destroy"}, func(t *testing.T, c *CLI) {
			if c.Config != "services.yaml" || c.IncludeClusterScoped || c.Prune {
				t.Errorf("cli = %+v", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCLI(tc.args, getenv)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseCLIErrors(t *testing.T) {
	none := func(string) string { return "" }
	cases := []struct {
		args   []string
		getenv func(string) string
		want   string
	}{
		{nil, none, "missing command"},
		{[]string{"--env", "dev"}, none, "missing command"},
		{[]string{"render"}, none, "unknown command"},
		{[]string{"template"}, none, "--env is required"},
		{[]string{"template", "--env", "dev", "--slot", "x"}, none, "invalid value"},
		{[]string{"template", "--env", "dev", "--nope"}, none, "not defined"},
		{[]string{"template", "--env", "dev", "extra"}, none, "unexpected arguments"},
		{[]string{"template", "--env", "dev", "--vars", "novalue"}, none, "KEY=VALUE"},
		{[]string{"template", "--env", "dev"}, func(k string) string {
			if k == "AGENTLINE_SLOT" {
				return "two"
			}
			return ""
		}, "AGENTLINE_SLOT"},
	}
	for _, tc := range cases {
		if _, err := ParseCLI(tc.args, tc.getenv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCLI(%v) err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestCLITemplateWritesResults(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseCLI([]string{"template", "--config", filepath.Join(shopfrontDir(t), "services.yaml"), "--env", "ai", "--slot", "2",
		"--offline", "--results-dir", dir, "--skip-services", "WEB"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := c.Run(context.Background(), &out, &errOut); err != nil {
		t.Fatalf("run: %v (stderr %s)", err, errOut.String())
	}
	objs, err := DecodeManifests("stdout", out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetName() == "web" {
			t.Errorf("--skip-services WEB: web still rendered")
		}
	}
	if strings.Contains(out.String(), "change-me") || !strings.Contains(out.String(), Masked) {
		t.Error("Secret value not masked in template output")
	}
	for name, want := range map[string]string{ResultNamespace: "shopfront-dev-2", ResultObjects: "10"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("result %s = %q, %v; want %q", name, b, err, want)
		}
	}
	if len(objs) != 10 {
		t.Errorf("rendered %d objects, want 10", len(objs))
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"bogus"}, &out, &errOut); code != 2 {
		t.Errorf("usage error exit = %d, want 2", code)
	}
	if code := Main(context.Background(), []string{"template", "--env", "dev", "--offline", "--config", "/nonexistent/services.yaml"}, &out, &errOut); code != 1 {
		t.Errorf("missing config exit = %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "/nonexistent/services.yaml") {
		t.Errorf("error does not name the file: %s", errOut.String())
	}
}

package codexconfig

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/agentline/agentline/pkg/stackfile"
	"github.com/agentline/agentline/test/scriptedmodel"
)

func str(s string) *string { return &s }

const (
	docsKey     = "docs-secret-value-1"
	trackerTok  = "tracker-token-value-2"
	teamHeader  = "team-secret-value-3"
	fromVarFile = "varfile-secret-value-4"
)

func shopCodex() stackfile.Codex {
	return stackfile.Codex{
		Model: "gpt-5.3-codex",
		ConfigBlocks: []stackfile.ConfigBlock{
			{Name: "provider", TOML: "model_provider = \"local\"\n[model_providers.local]\nname = \"{{ .Project }}\"\nbase_url = \"http://127.0.0.1:1/v1\"\n"},
			{Name: "sandbox", TOML: "sandbox_mode = \"workspace-write\"\n[analytics]\nextra = 1\n"},
		},
		MCP: stackfile.MCP{Servers: []stackfile.MCPServer{
			{Name: "docs", Type: "stdio", Command: "npx", Args: []string{"-y", "docs-mcp-server"}, StartupTimeoutSec: 60,
				Env: map[string]stackfile.ValueRef{
					"DOCS_API_KEY": {EnvRef: "DOCS_API_KEY", Optional: true},
					"DOCS_URL":     {Value: str("https://docs.example.invalid/mcp")},
					"DOCS_OPT":     {EnvRef: "NOT_SET_ANYWHERE", Optional: true},
					"DOCS_VAR":     {VarRef: "docsVar"},
				}},
			{Name: "tracker", Type: "https", Endpoint: "https://tracker.example.invalid/mcp", BearerTokenEnvVar: "TRACKER_TOKEN",
				Headers: map[string]stackfile.ValueRef{
					"X-Team":   {Value: str("shop")},
					"X-Secret": {EnvRef: "TEAM_HEADER"},
					"X-Var":    {VarRef: "docsVar"},
				}},
			{Name: "approvals", Type: "cluster", ToolTimeoutSec: 1800,
				Service: &stackfile.MCPService{Name: "approval-gateway", Namespace: "agent-system", Port: 8080}},
		}},
	}
}

func shopOptions() Options {
	return Options{
		Codex: shopCodex(),
		Render: func(name, text string) (string, error) {
			return strings.ReplaceAll(text, "{{ .Project }}", "shopfront"), nil
		},
		EnvMap: map[string]string{"DOCS_API_KEY": docsKey, "TRACKER_TOKEN": trackerTok, "TEAM_HEADER": teamHeader},
		Vars:   map[string]string{"docsVar": fromVarFile},
		Model:  "gpt-5.2-codex", ReasoningEffort: "high",
	}
}

func TestBuildAndWrite(t *testing.T) {
	cfg, err := Build(shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := cfg.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config.toml mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	for _, secret := range []string{docsKey, trackerTok, teamHeader, fromVarFile} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("config.toml contains a secret value %q:\n%s", secret, raw)
		}
	}
	var got map[string]any
	if err := toml.Unmarshal(raw, &got); err != nil {
		t.Fatalf("written config is not TOML: %v\n%s", err, raw)
	}
	check := func(path string, want any) {
		t.Helper()
		var v any = got
		for _, p := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: %v is not a table", path, v)
				return
			}
			v = m[p]
		}
		if gotJSON, wantJSON := mustJSON(v), mustJSON(want); gotJSON != wantJSON {
			t.Errorf("%s = %s, want %s", path, gotJSON, wantJSON)
		}
	}
	check("model", "gpt-5.2-codex")
	check("model_reasoning_effort", "high")
	check("sandbox_mode", "workspace-write") // from a config block
	check("approval_policy", "never")        // built-in template
	check("analytics.enabled", false)        // template table merged with a block's table
	check("analytics.extra", 1)
	check("model_providers.local.name", "shopfront") // blocks are templated
	check("mcp_servers.docs.command", "npx")
	check("mcp_servers.docs.args", []string{"-y", "docs-mcp-server"})
	check("mcp_servers.docs.startup_timeout_sec", 60)
	check("mcp_servers.docs.env", map[string]string{"DOCS_URL": "https://docs.example.invalid/mcp"})
	check("mcp_servers.docs.env_vars", []string{"DOCS_API_KEY", "DOCS_VAR"})
	check("mcp_servers.tracker.url", "https://tracker.example.invalid/mcp")
	check("mcp_servers.tracker.bearer_token_env_var", "TRACKER_TOKEN")
	check("mcp_servers.tracker.http_headers", map[string]string{"X-Team": "shop"})
	check("mcp_servers.tracker.env_http_headers", map[string]string{"X-Secret": "TEAM_HEADER", "X-Var": "AGENTLINE_MCP_TRACKER_X_VAR"})
	check("mcp_servers.approvals.url", "http://approval-gateway.agent-system.svc.cluster.local:8080/mcp")
	check("mcp_servers.approvals.tool_timeout_sec", 1800)

	wantEnv := map[string]string{"DOCS_API_KEY": docsKey, "DOCS_VAR": fromVarFile, "TRACKER_TOKEN": trackerTok,
		"TEAM_HEADER": teamHeader, "AGENTLINE_MCP_TRACKER_X_VAR": fromVarFile}
	if mustJSON(cfg.Env) != mustJSON(wantEnv) {
		t.Errorf("agent env = %v, want %v", cfg.Env, wantEnv)
	}
	if len(cfg.InlineSecrets) != 0 {
		t.Errorf("InlineSecrets = %v", cfg.InlineSecrets)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMissingRequiredReferenceNamesKey(t *testing.T) {
	o := shopOptions()
	delete(o.EnvMap, "TEAM_HEADER")
	_, err := Build(o)
	if err == nil || !strings.Contains(err.Error(), "codex.mcp.servers[tracker].headers.X-Secret") || !strings.Contains(err.Error(), "TEAM_HEADER") {
		t.Fatalf("error should name the key and the variable: %v", err)
	}
	o = shopOptions()
	delete(o.EnvMap, "DOCS_API_KEY") // optional: dropped
	cfg, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	docs := cfg.Tables["mcp_servers"].(map[string]any)["docs"].(map[string]any)
	if mustJSON(docs["env_vars"]) != `["DOCS_VAR"]` {
		t.Errorf("optional missing reference not dropped: %v", docs["env_vars"])
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		mutate func(*Options)
		want   string
	}{
		{func(o *Options) { o.Codex.ConfigBlocks[0].TOML = "model = " }, "codex.configBlocks[0] (provider): invalid TOML"},
		{func(o *Options) { o.Codex.ConfigBlocks[0].File = "x.toml" }, "set either toml or file"},
		{func(o *Options) { o.Codex.ConfigTemplate = "nope.toml.tmpl" }, "codex.configTemplate"},
		{func(o *Options) { o.Codex.MCP.Servers[0].Type = "grpc" }, `codex.mcp.servers[docs].type: "grpc" is not one of`},
		{func(o *Options) { o.Codex.MCP.Servers[0].Command = "" }, "codex.mcp.servers[docs].command: required"},
		{func(o *Options) { o.Codex.MCP.Servers[2].Service = nil }, "codex.mcp.servers[approvals].service: required"},
		{func(o *Options) { o.Codex.MCP.Servers[1].Name = "docs" }, "codex.mcp.servers[docs]: an MCP server of this name is already defined"},
		{func(o *Options) {
			o.Codex.MCP.Servers[0].Env["BAD"] = stackfile.ValueRef{EnvRef: "A", VarRef: "B"}
		}, "codex.mcp.servers[docs].env.BAD: exactly one of"},
	}
	for _, c := range cases {
		o := shopOptions()
		o.Codex = shopCodex()
		o.ProjectRoot = t.TempDir()
		c.mutate(&o)
		if _, err := Build(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want error containing %q, got %v", c.want, err)
		}
	}
}

func TestConfigTemplateAndFileBlock(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "codex.toml.tmpl"), []byte("approval_policy = \"on-request\"\n"), 0o600)
	os.WriteFile(filepath.Join(root, "extra.toml"), []byte("[features]\nweb_search = true\n"), 0o600)
	o := Options{ProjectRoot: root, Codex: stackfile.Codex{
		ConfigTemplate: "codex.toml.tmpl",
		ConfigBlocks:   []stackfile.ConfigBlock{{Name: "f", File: "extra.toml"}},
	}}
	cfg, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tables["approval_policy"] != "on-request" || cfg.Tables["sandbox_mode"] != DefaultSandboxMode {
		t.Errorf("template values / defaults wrong: %v", cfg.Tables)
	}
	if _, ok := cfg.Tables["analytics"]; ok {
		t.Error("configTemplate should replace the built-in template")
	}
	if cfg.Tables["features"].(map[string]any)["web_search"] != true {
		t.Errorf("file block not merged: %v", cfg.Tables)
	}
	o.ApprovalPolicy, o.SandboxMode = "untrusted", "read-only"
	cfg, _ = Build(o)
	if cfg.Tables["approval_policy"] != "untrusted" || cfg.Tables["sandbox_mode"] != "read-only" {
		t.Errorf("explicit policy not applied: %v", cfg.Tables)
	}
}

func TestConflictingStdioEnvGoesInline(t *testing.T) {
	o := Options{EnvMap: map[string]string{"A": "one", "B": "two"}, Codex: stackfile.Codex{MCP: stackfile.MCP{Servers: []stackfile.MCPServer{
		{Name: "s1", Type: "stdio", Command: "x", Env: map[string]stackfile.ValueRef{"KEY": {EnvRef: "A"}}},
		{Name: "s2", Type: "stdio", Command: "y", Env: map[string]stackfile.ValueRef{"KEY": {EnvRef: "B"}}},
	}}}}
	cfg, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Env["KEY"] != "one" || len(cfg.InlineSecrets) != 1 || cfg.InlineSecrets[0] != "codex.mcp.servers[s2].env.KEY" {
		t.Errorf("env=%v inline=%v", cfg.Env, cfg.InlineSecrets)
	}
}

// TestRealCLIReadsConfig checks with the real Codex CLI that the written file is understood: every
// server with its transport, and the secret-by-name fields.
func TestRealCLIReadsConfig(t *testing.T) {
	bin := scriptedmodel.CodexBinary(t)
	cfg, err := Build(shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if _, err := cfg.Write(home); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "mcp", "list", "--json")
	cmd.Env = append(os.Environ(), "CODEX_HOME="+home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("codex mcp list: %v\n%s", err, out)
	}
	var servers []struct {
		Name      string         `json:"name"`
		Transport map[string]any `json:"transport"`
	}
	if err := json.Unmarshal(out, &servers); err != nil {
		t.Fatalf("codex mcp list output: %v\n%s", err, out)
	}
	byName := map[string]map[string]any{}
	for _, s := range servers {
		byName[s.Name] = s.Transport
	}
	if tr := byName["docs"]; tr == nil || tr["type"] != "stdio" || mustJSON(tr["env_vars"]) != `["DOCS_API_KEY","DOCS_VAR"]` {
		t.Errorf("docs as read by codex: %v", tr)
	}
	if tr := byName["tracker"]; tr == nil || tr["type"] != "streamable_http" || tr["bearer_token_env_var"] != "TRACKER_TOKEN" ||
		mustJSON(tr["env_http_headers"]) != `{"X-Secret":"TEAM_HEADER","X-Var":"AGENTLINE_MCP_TRACKER_X_VAR"}` {
		t.Errorf("tracker as read by codex: %v", tr)
	}
	if tr := byName["approvals"]; tr == nil || tr["url"] != "http://approval-gateway.agent-system.svc.cluster.local:8080/mcp" {
		t.Errorf("approvals as read by codex: %v", tr)
	}
	for _, secret := range []string{docsKey, trackerTok, teamHeader, fromVarFile} {
		if strings.Contains(string(out), secret) {
			t.Errorf("codex sees a secret value in the config: %s", secret)
		}
	}
}

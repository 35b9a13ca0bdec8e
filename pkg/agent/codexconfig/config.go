// Package codexconfig writes the Codex CLI's config.toml from the stack file's `codex` block: the
// built-in template (or codex.configTemplate), then codex.configBlocks, then one mcp_servers table
// per server, then the model settings agentline decided. Secret values never go into the file:
// they are handed to the agent process as environment variables whose names the file refers to.
package codexconfig

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/agentline/agentline/pkg/stackfile"
)

//go:embed config.toml.tmpl
var builtinTemplate string

// Defaults of the sandbox and approval policy: the pod is the sandbox, nobody approves.
const (
	DefaultSandboxMode    = "danger-full-access"
	DefaultApprovalPolicy = "never"
)

// Options say what goes into the config.
type Options struct {
	// Codex is the rendered `codex` block.
	Codex stackfile.Codex
	// Render renders a template with the stack's functions and context (stackfile.Loaded's
	// RenderString); name is used in error messages. nil leaves texts as they are.
	Render func(name, text string) (string, error)
	// EnvMap and Vars resolve envRef and varRef values (stackfile.Context's maps).
	EnvMap, Vars map[string]string
	// ProjectRoot resolves relative configTemplate and configBlocks file paths.
	ProjectRoot string
	// Model and ReasoningEffort are the values chosen by precedence; empty leaves the template's.
	Model, ReasoningEffort string
	// SandboxMode and ApprovalPolicy override the template; empty keeps the template's value or,
	// when the template has none, the defaults.
	SandboxMode, ApprovalPolicy string
}

// Config is a built config: the TOML tables and the environment the agent process needs.
type Config struct {
	// Tables is the decoded config.toml content.
	Tables map[string]any
	// Env holds environment variables (name -> value) the agent process must receive so that the
	// names written in the file resolve: MCP env values, header values and tokens.
	Env map[string]string
	// InlineSecrets names keys whose values had to be written into the file (two stdio servers
	// wanting different values for the same variable name); empty in the normal case.
	InlineSecrets []string
}

// Build assembles the config without writing it.
func Build(o Options) (*Config, error) {
	tmplName, tmplText := "built-in codex config template", builtinTemplate
	if p := o.Codex.ConfigTemplate; p != "" {
		b, err := os.ReadFile(o.abs(p))
		if err != nil {
			return nil, fmt.Errorf("codex.configTemplate: %w", err)
		}
		tmplName, tmplText = "codex.configTemplate "+p, string(b)
	}
	tables, err := o.decode(tmplName, tmplText)
	if err != nil {
		return nil, err
	}
	for i, blk := range o.Codex.ConfigBlocks {
		name := fmt.Sprintf("codex.configBlocks[%d]", i)
		if blk.Name != "" {
			name += " (" + blk.Name + ")"
		}
		text := blk.TOML
		switch {
		case blk.File != "" && blk.TOML != "":
			return nil, fmt.Errorf("%s: set either toml or file, not both", name)
		case blk.File != "":
			b, err := os.ReadFile(o.abs(blk.File))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			text = string(b)
		}
		t, err := o.decode(name, text)
		if err != nil {
			return nil, err
		}
		merge(tables, t)
	}

	cfg := &Config{Tables: tables, Env: map[string]string{}}
	if err := cfg.addMCPServers(o); err != nil {
		return nil, err
	}
	setIf(tables, "model", o.Model)
	setIf(tables, "model_reasoning_effort", o.ReasoningEffort)
	setIf(tables, "sandbox_mode", o.SandboxMode)
	setIf(tables, "approval_policy", o.ApprovalPolicy)
	setDefault(tables, "sandbox_mode", DefaultSandboxMode)
	setDefault(tables, "approval_policy", DefaultApprovalPolicy)
	return cfg, nil
}

// Marshal encodes the tables as TOML.
func (c *Config) Marshal() ([]byte, error) {
	b, err := toml.Marshal(c.Tables)
	if err != nil {
		return nil, fmt.Errorf("encode codex config: %w", err)
	}
	return b, nil
}

// Write writes the config to codexHome/config.toml with mode 0600 (replacing the file atomically)
// and returns its path.
func (c *Config) Write(codexHome string) (string, error) {
	b, err := c.Marshal()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		return "", fmt.Errorf("codex home: %w", err)
	}
	path := filepath.Join(codexHome, "config.toml")
	tmp, err := os.CreateTemp(codexHome, ".config.toml.*")
	if err != nil {
		return "", fmt.Errorf("write codex config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write codex config: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write codex config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write codex config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write codex config: %w", err)
	}
	return path, nil
}

func (o Options) abs(p string) string {
	if filepath.IsAbs(p) || o.ProjectRoot == "" {
		return p
	}
	return filepath.Join(o.ProjectRoot, p)
}

func (o Options) decode(name, text string) (map[string]any, error) {
	if o.Render != nil {
		r, err := o.Render(name, text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		text = r
	}
	out := map[string]any{}
	if err := toml.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("%s: invalid TOML: %w", name, err)
	}
	return out, nil
}

// merge copies src into dst; tables merge recursively, other values replace.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				merge(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func setDefault(m map[string]any, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

var nonEnvChars = regexp.MustCompile(`[^A-Z0-9_]+`)

// envName builds an environment variable name for a value that has no name of its own.
func envName(parts ...string) string {
	s := strings.ToUpper(strings.Join(parts, "_"))
	return strings.Trim(nonEnvChars.ReplaceAllString(s, "_"), "_")
}

func (c *Config) addMCPServers(o Options) error {
	servers := o.Codex.MCP.Servers
	if len(servers) == 0 {
		return nil
	}
	mcp, _ := c.Tables["mcp_servers"].(map[string]any)
	if mcp == nil {
		mcp = map[string]any{}
	}
	for i, s := range servers {
		key := fmt.Sprintf("codex.mcp.servers[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s.name: required", key)
		}
		key = fmt.Sprintf("codex.mcp.servers[%s]", s.Name)
		if _, dup := mcp[s.Name]; dup {
			return fmt.Errorf("%s: an MCP server of this name is already defined (configBlocks or an earlier entry)", key)
		}
		t := map[string]any{}
		if s.StartupTimeoutSec > 0 {
			t["startup_timeout_sec"] = s.StartupTimeoutSec
		}
		if s.ToolTimeoutSec > 0 {
			t["tool_timeout_sec"] = s.ToolTimeoutSec
		}
		switch s.Type {
		case stackfile.MCPTypeStdio:
			if s.Command == "" {
				return fmt.Errorf("%s.command: required for a stdio server", key)
			}
			t["command"] = s.Command
			if len(s.Args) > 0 {
				t["args"] = s.Args
			}
			if err := c.stdioEnv(o, key, s, t); err != nil {
				return err
			}
		case stackfile.MCPTypeHTTP, stackfile.MCPTypeHTTPS, stackfile.MCPTypeCluster:
			url := s.URL()
			if url == "" {
				what := "endpoint"
				if s.Type == stackfile.MCPTypeCluster {
					what = "service"
				}
				return fmt.Errorf("%s.%s: required for a %s server", key, what, s.Type)
			}
			t["url"] = url
			if s.BearerTokenEnvVar != "" {
				t["bearer_token_env_var"] = s.BearerTokenEnvVar
				// The token may come from an envFile rather than the process environment: hand
				// it to the agent process under the same name.
				if v := o.EnvMap[s.BearerTokenEnvVar]; v != "" {
					c.Env[s.BearerTokenEnvVar] = v
				}
			}
			if err := c.httpHeaders(o, key, s, t); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s.type: %q is not one of stdio, http, https, cluster", key, s.Type)
		}
		mcp[s.Name] = t
	}
	c.Tables["mcp_servers"] = mcp
	return nil
}

// stdioEnv: literal values go into `env`; referenced values (possibly secret) go to the agent
// process environment under the key's own name and are forwarded by name through `env_vars`.
func (c *Config) stdioEnv(o Options, key string, s stackfile.MCPServer, t map[string]any) error {
	literal := map[string]any{}
	var forward []string
	for _, k := range sortedKeys(s.Env) {
		ref := s.Env[k]
		val, ok, err := ref.Resolve(key+".env."+k, o.EnvMap, o.Vars)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if ref.Value != nil {
			literal[k] = val
			continue
		}
		if prev, taken := c.Env[k]; taken && prev != val {
			// Another server needs a different value under the same name: the process
			// environment cannot carry both, so this one goes into the (0600) file.
			literal[k] = val
			c.InlineSecrets = append(c.InlineSecrets, key+".env."+k)
			continue
		}
		c.Env[k] = val
		forward = append(forward, k)
	}
	if len(literal) > 0 {
		t["env"] = literal
	}
	if len(forward) > 0 {
		t["env_vars"] = forward
	}
	return nil
}

// httpHeaders: literal values go into `http_headers`; referenced values into `env_http_headers`
// (header -> variable name), with the value handed to the agent process.
func (c *Config) httpHeaders(o Options, key string, s stackfile.MCPServer, t map[string]any) error {
	literal := map[string]any{}
	byEnv := map[string]any{}
	for _, h := range sortedKeys(s.Headers) {
		ref := s.Headers[h]
		val, ok, err := ref.Resolve(key+".headers."+h, o.EnvMap, o.Vars)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if ref.Value != nil {
			literal[h] = val
			continue
		}
		name := ref.EnvRef
		if name == "" || (c.Env[name] != "" && c.Env[name] != val) {
			name = envName("AGENTLINE_MCP", s.Name, h)
		}
		c.Env[name] = val
		byEnv[h] = name
	}
	if len(literal) > 0 {
		t["http_headers"] = literal
	}
	if len(byEnv) > 0 {
		t["env_http_headers"] = byEnv
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package stackfile

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/test/shared"
)

func TestValueRefResolve(t *testing.T) {
	str := func(s string) *string { return &s }
	env := map[string]string{"E": "env-value", "EMPTY": ""}
	vars := map[string]string{"V": "var-value"}
	cases := []struct {
		name    string
		ref     ValueRef
		want    string
		wantOK  bool
		wantErr string
	}{
		{"value", ValueRef{Value: str("lit")}, "lit", true, ""},
		{"empty value", ValueRef{Value: str("")}, "", true, ""},
		{"envRef", ValueRef{EnvRef: "E"}, "env-value", true, ""},
		{"varRef", ValueRef{VarRef: "V"}, "var-value", true, ""},
		{"missing optional", ValueRef{EnvRef: "NOPE", Optional: true}, "", false, ""},
		{"empty optional", ValueRef{EnvRef: "EMPTY", Optional: true}, "", false, ""},
		{"missing required env", ValueRef{EnvRef: "NOPE"}, "", false, `KEY: envRef "NOPE" is not set`},
		{"missing required var", ValueRef{VarRef: "NOPE"}, "", false, `KEY: varRef "NOPE" is not set`},
		{"none", ValueRef{}, "", false, "exactly one"},
		{"two", ValueRef{EnvRef: "E", VarRef: "V"}, "", false, "exactly one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := tc.ref.Resolve("KEY", env, vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want || ok != tc.wantOK {
				t.Errorf("Resolve = %q, %v, %v; want %q, %v", got, ok, err, tc.want, tc.wantOK)
			}
		})
	}
}

func TestMCPServerURL(t *testing.T) {
	cases := []struct {
		srv  MCPServer
		want string
	}{
		{MCPServer{Type: "cluster", Service: &MCPService{Name: "gw", Namespace: "sys"}}, "http://gw.sys.svc.cluster.local:80/mcp"},
		{MCPServer{Type: "cluster", Service: &MCPService{Name: "gw", Namespace: "sys", Port: 8080, Path: "x", Scheme: "https"}}, "https://gw.sys.svc.cluster.local:8080/x"},
		{MCPServer{Type: "https", Endpoint: "https://e/mcp"}, "https://e/mcp"},
		{MCPServer{Type: "stdio", Command: "npx"}, ""},
		{MCPServer{Type: "cluster"}, ""},
	}
	for _, tc := range cases {
		if got := tc.srv.URL(); got != tc.want {
			t.Errorf("URL(%+v) = %q, want %q", tc.srv, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{"": 0, "300": 300 * time.Second, "300s": 300 * time.Second, "45m": 45 * time.Minute, " 1h30m ": 90 * time.Minute}
	for in, want := range cases {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "-5", "-1s"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q): want an error", bad)
		}
	}
}

func TestShopfrontModel(t *testing.T) {
	l := mustLoad(t, filepath.Join(shared.Shopfront(t), "services.yaml"), LoadOptions{Env: "ai", Slot: 2})
	st := l.Stack
	if st.MaxSlots != 4 || st.Registry != "registry.shopfront-dev-2.svc.cluster.local:5000" {
		t.Errorf("maxSlots=%d registry=%q", st.MaxSlots, st.Registry)
	}
	if got := st.Codex.Timeouts.DeployWait.D(); got != 3*time.Minute {
		t.Errorf("deployWait = %v", got)
	}
	if got := st.Codex.MCP.Servers[2].URL(); got != "http://approval-gateway.agent-system.svc.cluster.local:8080/mcp" {
		t.Errorf("cluster MCP URL = %q", got)
	}
	if img := st.Images["web"]; img.BuildContexts["shared"] != "libs/ui" || img.BuildArgs["NODE_VERSION"] != "22-bookworm" || img.TagTemplate != "ai-staging-2.1.3" {
		t.Errorf("images.web = %+v", img)
	}
	if st.State.ConfigmapPrefix != "shop-env-" || st.Storage.Data.AccessModes[0] != "ReadWriteOnce" {
		t.Errorf("state=%+v storage=%+v", st.State, st.Storage)
	}
	step := st.Infrastructure[2].Hooks.AfterApply[0]
	if step.Use != BuiltinKubectlWait || step.WithString("timeout") != "300s" || step.WithString("missing") != "" {
		t.Errorf("hook step = %+v", step)
	}
	if l.Environment.ImagePullPolicy != "IfNotPresent" || len(l.Environment.SlotBootstrapInfra) != 2 {
		t.Errorf("environment = %+v", l.Environment)
	}
	if _, ok := st.Service("API"); !ok {
		t.Error("Service lookup must be case-insensitive")
	}
}

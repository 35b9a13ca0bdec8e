// Package stack runs agentline's local Kubernetes + Tekton stack (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, a node, the Tekton controller, Triggers' EventListener
// sink and core interceptors, and an OCI registry) as processes on this machine, built from pinned
// modules by `make testbin`, and hands tests what they need to use it.
//
// State, logs and PIDs live in a git-ignored folder (.stack/ at the repository root by default).
// All ports derive from one base port. hack/stack is the command-line front end
// (make stack-up/stack-down/stack-status/stack-env); Get is the go test harness.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Environment variables that configure the stack.
const (
	// EnvDir overrides the state folder (default <repo>/.stack).
	EnvDir = "AGENTLINE_STACK_DIR"
	// EnvPortBase overrides the base port (default 17000); every port derives from it.
	EnvPortBase = "AGENTLINE_STACK_PORT_BASE"
	// EnvBinDir overrides the test binaries folder (default <repo>/bin/testbin).
	EnvBinDir = "AGENTLINE_TESTBIN"
)

// DefaultPortBase is the first port of the stack's port range.
const DefaultPortBase = 17000

// Ports are the TCP ports of the stack's components, all derived from Base.
type Ports struct {
	Base            int `json:"base"`
	EtcdClient      int `json:"etcdClient"`
	EtcdPeer        int `json:"etcdPeer"`
	APIServer       int `json:"apiServer"`
	Registry        int `json:"registry"`
	EventListener   int `json:"eventListener"`
	Interceptors    int `json:"interceptors"`
	Kwok            int `json:"kwok"`
	TektonProbes    int `json:"tektonProbes"`
	TektonMetrics   int `json:"tektonMetrics"`
	TektonProfiling int `json:"tektonProfiling"`
	ELMetrics       int `json:"elMetrics"`
	ELProfiling     int `json:"elProfiling"`
	ICMetrics       int `json:"icMetrics"`
	ICProfiling     int `json:"icProfiling"`
	Scheduler       int `json:"scheduler"`
	ControllerMgr   int `json:"controllerManager"`
}

// PortsFrom derives every port from base.
func PortsFrom(base int) Ports {
	return Ports{
		Base: base, EtcdClient: base, EtcdPeer: base + 1, APIServer: base + 2, Registry: base + 3,
		EventListener: base + 4, Interceptors: base + 5, Kwok: base + 6, TektonProbes: base + 7,
		TektonMetrics: base + 8, TektonProfiling: base + 9, ELMetrics: base + 10, ELProfiling: base + 11,
		ICMetrics: base + 12, ICProfiling: base + 13, Scheduler: base + 14, ControllerMgr: base + 15,
	}
}

// Config says where the stack lives and which ports it uses.
type Config struct {
	// Root is the repository root (holds hack/tools and bin/testbin).
	Root string
	// Dir is the state folder.
	Dir string
	// BinDir holds the test binaries.
	BinDir string
	// Ports of the components.
	Ports Ports
	// Node selects the node implementation ("kwok").
	Node string
}

// DefaultConfig finds the repository root from the working directory and applies the
// environment overrides.
func DefaultConfig() (Config, error) {
	root, err := RepoRoot()
	if err != nil {
		return Config{}, err
	}
	c := Config{Root: root, Dir: filepath.Join(root, ".stack"), BinDir: filepath.Join(root, "bin", "testbin"), Node: "kwok"}
	if d := os.Getenv(EnvDir); d != "" {
		c.Dir, _ = filepath.Abs(d)
	}
	if d := os.Getenv(EnvBinDir); d != "" {
		c.BinDir, _ = filepath.Abs(d)
	}
	base := DefaultPortBase
	if s := os.Getenv(EnvPortBase); s != "" {
		base, err = strconv.Atoi(s)
		if err != nil || base < 1024 || base > 65000 {
			return Config{}, fmt.Errorf("%s=%q: want a port number between 1024 and 65000", EnvPortBase, s)
		}
	}
	c.Ports = PortsFrom(base)
	return c, nil
}

// RepoRoot walks up from the working directory to the folder holding agentline's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isAgentlineMod(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: not inside the agentline repository (no go.mod of github.com/agentline/agentline above the working directory)")
		}
		dir = parent
	}
}

func isAgentlineMod(b []byte) bool {
	const want = "module github.com/agentline/agentline\n"
	return len(b) >= len(want) && string(b[:len(want)]) == want
}

// BinDir returns the folder of the test binaries built by `make testbin`.
func BinDir() string {
	c, err := DefaultConfig()
	if err != nil {
		return filepath.Join("bin", "testbin")
	}
	return c.BinDir
}

// Paths of files in the state folder.
func (c Config) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// KubeconfigPath is the admin kubeconfig the stack writes.
func (c Config) KubeconfigPath() string { return c.path("kubeconfig") }

// RegistryHost is host:port of the stack's registry.
func (c Config) RegistryHost() string { return fmt.Sprintf("127.0.0.1:%d", c.Ports.Registry) }

// APIServerURL is the API server's address.
func (c Config) APIServerURL() string { return fmt.Sprintf("https://127.0.0.1:%d", c.Ports.APIServer) }

// EventListenerURL is the default EventListener sink's address.
func (c Config) EventListenerURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.Ports.EventListener)
}

// state is what stack-up records for later commands (ports may not be re-derivable if the
// environment changed).
type state struct {
	Ports Ports  `json:"ports"`
	Node  string `json:"node"`
}

func (c Config) saveState() error {
	b, _ := json.MarshalIndent(state{Ports: c.Ports, Node: c.Node}, "", "  ")
	return os.WriteFile(c.path("state.json"), b, 0o644)
}

// withRecordedState returns c with the ports of a stack already recorded in its folder, if any.
func (c Config) withRecordedState() Config {
	b, err := os.ReadFile(c.path("state.json"))
	if err != nil {
		return c
	}
	var s state
	if json.Unmarshal(b, &s) == nil && s.Ports.Base != 0 {
		c.Ports = s.Ports
		if s.Node != "" {
			c.Node = s.Node
		}
	}
	return c
}

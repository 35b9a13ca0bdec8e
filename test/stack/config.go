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
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Environment variables that configure the stack.
const (
	// EnvDir overrides the state folder (default <repo>/.stack).
	EnvDir = "AGENTLINE_STACK_DIR"
	// EnvPortBase overrides the base port (default 17000); every port derives from it.
	EnvPortBase = "AGENTLINE_STACK_PORT_BASE"
	// EnvBinDir overrides the test binaries folder (default <repo>/bin/testbin).
	EnvBinDir = "AGENTLINE_TESTBIN"
	// EnvKwok=1 adds the kwok fake node (hack/stack up --kwok).
	EnvKwok = "AGENTLINE_STACK_KWOK"
	// EnvNodeIP overrides the detected node address.
	EnvNodeIP = "AGENTLINE_NODE_IP"
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
	DNS             int `json:"dns"`
	KubeletHealthz  int `json:"kubeletHealthz"`
	Kubelet         int `json:"kubelet"`
	ProxyHealthz    int `json:"proxyHealthz"`
	ProxyMetrics    int `json:"proxyMetrics"`
	DNSHealth       int `json:"dnsHealth"`
	DNSReady        int `json:"dnsReady"`
	LocalPath       int `json:"localPath"`
	DemoGitHub      int `json:"demoGitHub"`
	DemoModel       int `json:"demoModel"`
	DemoAdmin       int `json:"demoAdmin"`
}

// PortsFrom derives every port from base.
func PortsFrom(base int) Ports {
	return Ports{
		Base: base, EtcdClient: base, EtcdPeer: base + 1, APIServer: base + 2, Registry: base + 3,
		EventListener: base + 4, Interceptors: base + 5, Kwok: base + 6, TektonProbes: base + 7,
		TektonMetrics: base + 8, TektonProfiling: base + 9, ELMetrics: base + 10, ELProfiling: base + 11,
		ICMetrics: base + 12, ICProfiling: base + 13, Scheduler: base + 14, ControllerMgr: base + 15,
		DNS: base + 16, KubeletHealthz: base + 17, Kubelet: base + 18, ProxyHealthz: base + 19,
		ProxyMetrics: base + 20, DNSHealth: base + 21, DNSReady: base + 22, LocalPath: base + 23,
		DemoGitHub: base + 24, DemoModel: base + 25, DemoAdmin: base + 26,
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
	// NodeIP is the machine's non-loopback address: the real node's InternalIP, where pods reach
	// the API server, the registry and the other host services.
	NodeIP string
	// Kwok adds kwok's fake node (tainted; namespaces from Env.KwokNamespace schedule onto it).
	Kwok bool
}

// DefaultConfig finds the repository root from the working directory and applies the
// environment overrides.
func DefaultConfig() (Config, error) {
	root, err := RepoRoot()
	if err != nil {
		return Config{}, err
	}
	c := Config{Root: root, Dir: filepath.Join(root, ".stack"), BinDir: filepath.Join(root, "bin", "testbin"), Kwok: os.Getenv(EnvKwok) == "1"}
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
	if c.NodeIP = os.Getenv(EnvNodeIP); c.NodeIP == "" {
		if c.NodeIP, err = detectNodeIP(); err != nil {
			return Config{}, err
		}
	}
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

// RegistryHost is host:port of the stack's registry, on the node address so that the node's
// containerd pulls the same references that tests and ko push.
func (c Config) RegistryHost() string {
	return net.JoinHostPort(c.NodeIP, strconv.Itoa(c.Ports.Registry))
}

// APIServerURL is the API server's address.
func (c Config) APIServerURL() string { return fmt.Sprintf("https://127.0.0.1:%d", c.Ports.APIServer) }

// EventListenerURL is the default EventListener sink's address.
func (c Config) EventListenerURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.Ports.EventListener)
}

// state is what stack-up records for later commands (ports may not be re-derivable if the
// environment changed).
type state struct {
	Ports  Ports  `json:"ports"`
	NodeIP string `json:"nodeIP"`
	Kwok   bool   `json:"kwok"`
}

func (c Config) saveState() error {
	b, _ := json.MarshalIndent(state{Ports: c.Ports, NodeIP: c.NodeIP, Kwok: c.Kwok}, "", "  ")
	return os.WriteFile(c.path("state.json"), b, 0o644)
}

// withRecordedState returns c with the ports of a stack already recorded in its folder, if any.
func (c Config) withRecordedState() Config {
	b, err := os.ReadFile(c.path("state.json"))
	if err != nil {
		return c
	}
	var s state
	if json.Unmarshal(b, &s) == nil && s.Ports.Base != 0 && s.Ports.DemoAdmin != 0 {
		c.Ports = s.Ports
		if s.NodeIP != "" {
			c.NodeIP = s.NodeIP
		}
		c.Kwok = c.Kwok || s.Kwok
	}
	return c
}

// detectNodeIP returns the first IPv4 address of an up, non-loopback interface that is not a
// bridge the node itself creates (the kubelet refuses a loopback node IP).
func detectNodeIP() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("stack: listing network interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || i.Name == cniBridge || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String(), nil
			}
		}
	}
	return "", fmt.Errorf("stack: no non-loopback IPv4 address on this machine for the node (set %s)", EnvNodeIP)
}

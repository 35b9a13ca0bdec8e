package stack

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The real node: Debian's containerd and runc, the CNI reference plugins, and a kubelet and
// kube-proxy built from k8s.io/kubernetes (make testbin). Settings follow
// ../shared/notes/real-pods.md; everything it writes lives under <state>/node, except the few
// fixed host paths cleanNodeHost removes after stack-down.
const (
	// NodeName is the real node's name.
	NodeName = "agentline-node"
	// PodCIDR is the real node's pod network (CNI bridge + host-local).
	PodCIDR = "10.88.0.0/16"
	// ServiceCIDR is the cluster's Service IP range; the first address is kubernetes.default.
	ServiceCIDR = "10.0.0.0/24"
	// ClusterDNSIP is the kube-dns Service address, served by the stack's CoreDNS process.
	ClusterDNSIP = "10.0.0.10"
	// ClusterDomain is the cluster's DNS domain.
	ClusterDomain = "cluster.local"
	cniBridge     = "cni0"
	cniBinDir     = "/usr/lib/cni"
	containerdBin = "/usr/bin/containerd"
)

func (c Config) nodePath(parts ...string) string {
	return c.path(append([]string{"node"}, parts...)...)
}

// ContainerdSocket is the CRI socket of the node's containerd.
func (c Config) ContainerdSocket() string { return c.nodePath("containerd", "containerd.sock") }

// PauseImage is the pod sandbox image (built by make images).
func (c Config) PauseImage() string { return c.RegistryHost() + "/agentline/pause:latest" }

func (c Config) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
oom_score = 0

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # No CAP_SYS_RESOURCE here: the kubelet's -998 for sandboxes would fail every pod.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[8]q
`, c.nodePath("containerd", "root"), c.nodePath("containerd", "state"), c.ContainerdSocket(),
		c.nodePath("containerd", "opt"), c.PauseImage(), cniBinDir, c.nodePath("cni", "net.d"), c.nodePath("containerd", "certs.d"))
}

func (c Config) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "agentline",
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, cniBridge, PodCIDR, c.nodePath("cni", "ipam"))
}

// writeNodeFiles writes containerd's, the CNI's, the kubelet's and kube-proxy's configuration.
func (c Config) writeNodeFiles() error {
	reg := c.RegistryHost()
	files := map[string]string{
		c.nodePath("containerd", "config.toml"): c.containerdConfig(),
		// containerd pulls from the stack's registry over plain HTTP.
		c.nodePath("containerd", "certs.d", reg, "hosts.toml"): fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n", "http://"+reg, "http://"+reg),
		c.nodePath("cni", "net.d", "10-agentline.conflist"):    c.cniConfig(),
		c.nodePath("kubelet.yaml"):                             c.kubeletConfig(),
		c.nodePath("kube-proxy.yaml"):                          c.kubeProxyConfig(),
		c.nodePath("Corefile"):                                 c.corefile(),
	}
	maps.Copy(files, c.localPathFiles())
	for path, body := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		// Unchanged files stay untouched: kube-proxy exits when its configuration file changes.
		if cur, err := os.ReadFile(path); err == nil && string(cur) == body {
			continue
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) containerd() component {
	return component{
		process: process{name: "containerd", bin: containerdBin, args: []string{
			"--config=" + c.nodePath("containerd", "config.toml"), "--log-level=warn",
		}},
		ready:   unixReady(c.ContainerdSocket()),
		timeout: 30 * time.Second,
	}
}

// unixReady returns a check that connects to a unix socket.
func unixReady(path string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

func (c Config) kubeletConfig() string {
	p := c.Ports
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
address: 0.0.0.0
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
podCIDR: %s
podLogsDir: %s
clusterDNS: [%s]
clusterDomain: %s
resolvConf: /etc/resolv.conf
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
maxPods: 200
`, c.ContainerdSocket(), p.Kubelet, p.KubeletHealthz, PodCIDR, c.nodePath("pod-logs"), ClusterDNSIP, ClusterDomain)
}

func (c Config) kubelet(kube func() (kubernetes.Interface, error)) component {
	return component{
		process: process{name: "kubelet", bin: c.bin("kubelet"), args: []string{
			"--config=" + c.nodePath("kubelet.yaml"), "--kubeconfig=" + c.KubeconfigPath(),
			"--root-dir=" + c.nodePath("kubelet"), "--cert-dir=" + c.nodePath("kubelet", "pki"),
			"--node-ip=" + c.NodeIP, "--hostname-override=" + NodeName, "--v=0",
		}},
		ready:   nodeReady(kube, NodeName),
		timeout: 60 * time.Second,
		ports:   []int{c.Ports.Kubelet, c.Ports.KubeletHealthz},
	}
}

// nodeReady returns a check that wants the node registered with condition Ready=True.
func nodeReady(kube func() (kubernetes.Interface, error), name string) func(context.Context) error {
	return func(ctx context.Context) error {
		k, err := kube()
		if err != nil {
			return err
		}
		n, err := k.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node %s: Ready=%s (%s: %s)", name, cond.Status, cond.Reason, cond.Message)
			}
		}
		return fmt.Errorf("node %s has no Ready condition yet", name)
	}
}

func (c Config) kubeProxyConfig() string {
	p := c.Ports
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %s}
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
iptables:
  # Without br_netfilter guarantees, masquerading every Service connection keeps replies symmetric.
  masqueradeAll: true
  localhostNodePorts: false
  syncPeriod: 10s
  minSyncPeriod: 0s
conntrack:
  # Leave the host's conntrack sysctls alone (kube-proxy would try to raise them).
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, c.KubeconfigPath(), PodCIDR, NodeName, p.ProxyHealthz, p.ProxyMetrics)
}

func (c Config) kubeProxy() component {
	p := c.Ports
	return component{
		process: process{name: "kube-proxy", bin: c.bin("kube-proxy"), args: []string{
			"--config=" + c.nodePath("kube-proxy.yaml"),
		}},
		ready:   httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", p.ProxyHealthz), ""),
		timeout: 30 * time.Second,
		ports:   []int{p.ProxyHealthz, p.ProxyMetrics},
	}
}

// DNSAddress is host:port where the stack's CoreDNS serves (the kube-dns Service points there).
func (c Config) DNSAddress() string { return net.JoinHostPort(c.NodeIP, strconv.Itoa(c.Ports.DNS)) }

func (c Config) corefile() string {
	p := c.Ports
	return fmt.Sprintf(`.:%d {
    bind %s 127.0.0.1
    errors
    health 127.0.0.1:%d
    ready 127.0.0.1:%d
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`, p.DNS, c.NodeIP, p.DNSHealth, p.DNSReady, ClusterDomain, c.KubeconfigPath())
}

// coreDNS serves cluster DNS from a host process; the kube-dns Service (bootstrapNode) sends
// pods' queries to it through kube-proxy.
func (c Config) coreDNS() component {
	p := c.Ports
	return component{
		process: process{name: "coredns", bin: c.bin("coredns"), args: []string{"-conf", c.nodePath("Corefile")}},
		ready:   httpReady(fmt.Sprintf("http://127.0.0.1:%d/ready", p.DNSReady), ""),
		timeout: 30 * time.Second,
		ports:   []int{p.DNS, p.DNSHealth, p.DNSReady},
	}
}

// bootstrapNode applies the cluster objects the real node's services need: the kube-dns Service
// with an EndpointSlice pointing at the CoreDNS process on the node address, and local-path's
// namespace, the ConfigMap with its helper pods' setup and teardown scripts, and the default
// StorageClass.
func (c Config) bootstrapNode(ctx context.Context, ap *Applier) error {
	objs, err := DecodeYAML([]byte(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: %[1]s
  ports:
    - {name: dns, protocol: UDP, port: 53, targetPort: %[2]d}
    - {name: dns-tcp, protocol: TCP, port: 53, targetPort: %[2]d}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: agentline-stack}
addressType: IPv4
endpoints: [{addresses: [%[3]q]}]
ports:
  - {name: dns, protocol: UDP, port: %[2]d}
  - {name: dns-tcp, protocol: TCP, port: %[2]d}
---
apiVersion: v1
kind: Namespace
metadata: {name: %[4]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %[5]s, namespace: %[4]s}
data:
  setup: |
    #!/bin/sh
    set -eu
    mkdir -m 0777 -p "$VOL_DIR"
  teardown: |
    #!/bin/sh
    set -eu
    rm -rf "$VOL_DIR"
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: %[6]s
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: %[7]s
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
`, ClusterDNSIP, c.Ports.DNS, c.NodeIP, localPathNamespace, localPathConfigMap, StorageClass, localPathName)))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := ap.Apply(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// Local volumes: rancher's local-path-provisioner as a host process provisions hostPath PVs
// under <state>/node/volumes for claims of the default StorageClass "local-path" (PipelineRun
// volumeClaimTemplate workspaces), with helper pods on the node that create and delete the folders.
const (
	// StorageClass is the stack's default StorageClass.
	StorageClass       = "local-path"
	localPathNamespace = "local-path-storage"
	localPathConfigMap = "local-path-config"
	localPathName      = "rancher.io/local-path"
)

func (c Config) localPathFiles() map[string]string {
	return map[string]string{
		c.nodePath("local-path", "config.json"): fmt.Sprintf(`{"nodePathMap":[{"node":"DEFAULT_PATH_FOR_NON_LISTED_NODES","paths":[%q]}]}`+"\n", c.nodePath("volumes")),
		c.nodePath("local-path", "helperPod.yaml"): fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  automountServiceAccountToken: false
  containers:
    - name: helper-pod
      image: %s/agentline/base/busybox:1
      imagePullPolicy: IfNotPresent
`, c.RegistryHost()),
	}
}

func (c Config) localPathProvisioner(kube func() (kubernetes.Interface, error)) component {
	return component{
		process: process{name: "local-path-provisioner", bin: c.bin("local-path-provisioner"), args: []string{
			"start", "--kubeconfig=" + c.KubeconfigPath(),
			"--config=" + c.nodePath("local-path", "config.json"), "--helper-pod-file=" + c.nodePath("local-path", "helperPod.yaml"),
			"--namespace=" + localPathNamespace, "--configmap-name=" + localPathConfigMap,
			"--provisioner-name=" + localPathName, "--service-account-name=default",
		}},
		// It serves nothing to probe: ready once it has stayed up for a second.
		ready:   c.upFor("local-path-provisioner", time.Second),
		timeout: 10 * time.Second,
	}
}

// upFor returns a check that passes once the recorded process of name has run for d.
func (c Config) upFor(name string, d time.Duration) func(context.Context) error {
	return func(context.Context) error {
		pid, ok := c.runningPID(name)
		if !ok {
			return fmt.Errorf("%s is not running", name)
		}
		st, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		if err != nil {
			return err
		}
		if age := time.Since(st.ModTime()); age < d {
			return fmt.Errorf("%s started %s ago", name, age.Round(time.Millisecond))
		}
		return nil
	}
}

package stack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// component is one process of the stack with its readiness check.
type component struct {
	process
	// ready returns nil once the component serves.
	ready func(ctx context.Context) error
	// timeout bounds the wait for readiness.
	timeout time.Duration
	// ports the process listens on; they must be free before it starts (else a stray process
	// from elsewhere would answer its readiness check).
	ports []int
}

// busyPort returns the first of ports that something already listens on, or 0.
func busyPort(ports []int) int {
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			return p
		}
		l.Close()
	}
	return 0
}

const (
	tektonNamespace    = "tekton-pipelines"
	interceptorSecret  = "tekton-triggers-core-interceptors-certs"
	interceptorService = "tekton-triggers-core-interceptors"
	kubeMinVersion     = "v1.28.0"
	// DefaultEventListener is the EventListener served by the stack's sink process.
	DefaultEventListener = "agentline-github"
	// SystemNamespace is agentline's install namespace, where the default EventListener lives.
	SystemNamespace = "agentline-system"
	kwokNodeName    = "kwok-node-0"
)

var insecureClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // local self-signed endpoints only
}

// httpReady returns a check that GETs url and wants a 2xx answer.
func httpReady(url, token string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := insecureClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

func (c Config) bin(name string) string { return filepath.Join(c.BinDir, name) }

// knativeEnv are the settings every knative-based process of the stack needs.
func knativeEnv(metrics, profiling int) []string {
	return []string{
		"SYSTEM_NAMESPACE=" + tektonNamespace,
		"KUBERNETES_MIN_VERSION=" + kubeMinVersion,
		fmt.Sprintf("METRICS_PROMETHEUS_PORT=%d", metrics),
		fmt.Sprintf("PROFILING_PORT=%d", profiling),
	}
}

func (c Config) etcd() component {
	p := c.Ports
	return component{
		process: process{name: "etcd", bin: c.bin("etcd"), args: []string{
			"--name=agentline", "--data-dir=" + c.path("etcd"),
			fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", p.EtcdClient),
			fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", p.EtcdClient),
			fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", p.EtcdPeer),
			fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", p.EtcdPeer),
			fmt.Sprintf("--initial-cluster=agentline=http://127.0.0.1:%d", p.EtcdPeer),
			"--unsafe-no-fsync", "--log-level=warn",
		}},
		ready:   httpReady(fmt.Sprintf("http://127.0.0.1:%d/health", p.EtcdClient), ""),
		timeout: 20 * time.Second,
		ports:   []int{p.EtcdClient, p.EtcdPeer},
	}
}

func (c Config) apiserver(k *pki) component {
	p := c.Ports
	return component{
		process: process{name: "kube-apiserver", bin: c.bin("kube-apiserver"), args: []string{
			fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", p.EtcdClient),
			// Pods reach it through kubernetes.default (kube-proxy → the advertised node address).
			"--bind-address=0.0.0.0", "--advertise-address=" + c.NodeIP,
			fmt.Sprintf("--secure-port=%d", p.APIServer),
			"--cert-dir=" + c.apiserverCertDir(),
			"--token-auth-file=" + k.TokenFile,
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + k.SAPub,
			"--service-account-signing-key-file=" + k.SAKey,
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--authorization-mode=Node,RBAC",
			"--allow-privileged=true",
			// PodNodeSelector and PodTolerationRestriction send the pods of KwokNamespace namespaces
			// to the kwok node; ServiceAccount mounts tokens for in-cluster clients in step pods.
			"--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction",
			"--disable-admission-plugins=TaintNodesByCondition",
			"--kubelet-preferred-address-types=InternalIP",
			"--profiling=false",
		}},
		ready:   httpReady(c.APIServerURL()+"/readyz", k.Token),
		timeout: 60 * time.Second,
		ports:   []int{p.APIServer},
	}
}

func (c Config) controllerManager(k *pki) component {
	p := c.Ports
	return component{
		process: process{name: "kube-controller-manager", bin: c.bin("kube-controller-manager"), args: []string{
			"--kubeconfig=" + c.KubeconfigPath(),
			"--controllers=" + strings.Join([]string{"garbagecollector", "namespace", "serviceaccount",
				"serviceaccount-token", "nodelifecycle", "deployment", "replicaset", "statefulset", "job",
				"endpoint", "endpointslice", "persistentvolume-binder", "persistentvolume-protection-controller",
				"persistentvolumeclaim-protection-controller", "ttl-after-finished",
				"root-ca-certificate-publisher-controller", "pod-garbage-collector-controller"}, ","),
			"--leader-elect=false",
			fmt.Sprintf("--secure-port=%d", p.ControllerMgr), "--bind-address=127.0.0.1",
			"--use-service-account-credentials=false",
			"--service-account-private-key-file=" + k.SAKey,
			"--root-ca-file=" + filepath.Join(c.apiserverCertDir(), "apiserver.crt"),
			"--cluster-cidr=" + PodCIDR, "--service-cluster-ip-range=" + ServiceCIDR,
		}},
		ready:   httpReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.ControllerMgr), ""),
		timeout: 30 * time.Second,
		ports:   []int{p.ControllerMgr},
	}
}

func (c Config) scheduler() component {
	p := c.Ports
	return component{
		process: process{name: "kube-scheduler", bin: c.bin("kube-scheduler"), args: []string{
			"--kubeconfig=" + c.KubeconfigPath(), "--leader-elect=false",
			fmt.Sprintf("--secure-port=%d", p.Scheduler), "--bind-address=127.0.0.1",
		}},
		ready:   httpReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.Scheduler), ""),
		timeout: 30 * time.Second,
		ports:   []int{p.Scheduler},
	}
}

func (c Config) registry() component {
	return component{
		process: process{name: "registry", bin: c.bin("registry"), args: []string{
			// All addresses: the node's containerd pulls through the node address.
			fmt.Sprintf("--address=:%d", c.Ports.Registry), "--blobs=" + c.path("registry"),
		}},
		ready:   httpReady("http://"+c.RegistryHost()+"/v2/", ""),
		timeout: 10 * time.Second,
		ports:   []int{c.Ports.Registry},
	}
}

func (c Config) tektonController() component {
	p := c.Ports
	env := append(knativeEnv(p.TektonMetrics, p.TektonProfiling),
		"CONFIG_DEFAULTS_NAME=config-defaults", "CONFIG_LOGGING_NAME=config-logging",
		"CONFIG_OBSERVABILITY_NAME=config-observability", "CONFIG_FEATURE_FLAGS_NAME=feature-flags",
		"CONFIG_LEADERELECTION_NAME=config-leader-election-controller", "CONFIG_SPIRE=config-spire",
		"METRICS_DOMAIN=tekton.dev/pipeline", fmt.Sprintf("PROBES_PORT=%d", p.TektonProbes))
	img := c.tektonImages()
	return component{
		process: process{name: "tekton-controller", bin: c.bin("tekton-controller"), env: env, args: []string{
			"--kubeconfig=" + c.KubeconfigPath(), "--disable-ha",
			"-entrypoint-image=" + img.Entrypoint, "-nop-image=" + img.Nop,
			"-sidecarlogresults-image=" + img.SidecarLogResults, "-workingdirinit-image=" + img.WorkingDirInit,
			"-shell-image=" + img.Shell, "-shell-image-win=" + img.Shell,
		}},
		ready:   httpReady(fmt.Sprintf("http://127.0.0.1:%d/readiness", p.TektonProbes), ""),
		timeout: 30 * time.Second,
		ports:   []int{p.TektonProbes, p.TektonMetrics, p.TektonProfiling},
	}
}

// tektonImageSet names the images the Tekton controller puts into step pods.
type tektonImageSet struct {
	Entrypoint, Nop, SidecarLogResults, WorkingDirInit, Shell string
}

// tektonImages are Tekton's own images, built from the pinned module by make images.
func (c Config) tektonImages() tektonImageSet {
	r := c.RegistryHost() + "/tekton"
	return tektonImageSet{Entrypoint: r + "/entrypoint:" + TektonVersion, Nop: r + "/nop:" + TektonVersion,
		SidecarLogResults: r + "/sidecarlogresults:" + TektonVersion, WorkingDirInit: r + "/workingdirinit:" + TektonVersion,
		Shell: c.RegistryHost() + "/agentline/base/busybox:1"}
}

// TektonVersion is the tag of Tekton's images in the stack's registry (the pinned module's version).
const TektonVersion = "v1.15.0"

// apiserverCertDir holds the API server's self-signed certificate, per node address (its SANs).
func (c Config) apiserverCertDir() string { return c.path("pki", "apiserver-"+c.NodeIP) }

func (c Config) interceptors() component {
	p := c.Ports
	env := append(knativeEnv(p.ICMetrics, p.ICProfiling),
		"INTERCEPTOR_TLS_SECRET_NAME="+interceptorSecret, "INTERCEPTOR_TLS_SVC_NAME="+interceptorService)
	return component{
		process: process{name: "interceptors", bin: c.bin("interceptors"), env: env, args: []string{
			"--kubeconfig=" + c.KubeconfigPath(), fmt.Sprintf("--address=127.0.0.1:%d", p.Interceptors),
		}},
		ready:   httpReady(fmt.Sprintf("https://127.0.0.1:%d/ready", p.Interceptors), ""),
		timeout: 30 * time.Second,
		ports:   []int{p.Interceptors, p.ICMetrics, p.ICProfiling},
	}
}

// eventListenerProcess is a Triggers EventListener sink serving the EventListener ns/name.
func (c Config) eventListenerProcess(name, ns string, port, metrics, profiling int) component {
	env := append(knativeEnv(metrics, profiling),
		"NAMESPACE="+ns, "NAME="+name, "EL_EVENT=disable", "K_SINK_TIMEOUT=5")
	return component{
		process: process{name: "eventlistener", bin: c.bin("eventlistenersink"), env: env, args: []string{
			"--kubeconfig=" + c.KubeconfigPath(), "--el-name=" + name, "--el-namespace=" + ns,
			fmt.Sprintf("--port=%d", port),
		}},
		ready:   httpReady(fmt.Sprintf("http://127.0.0.1:%d/live", port), ""),
		timeout: 30 * time.Second,
		ports:   []int{port, metrics, profiling},
	}
}

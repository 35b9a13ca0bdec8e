package stack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Env is what a test gets from a running stack.
type Env struct {
	// Stack is the stack's configuration (ports, folders).
	Stack Config
	// Config is an admin REST config.
	Config *rest.Config
	// Kube is an admin clientset.
	Kube kubernetes.Interface
	// Dynamic is an admin dynamic client.
	Dynamic dynamic.Interface
	// Tekton is Tekton's clientset.
	Tekton tektonclient.Interface
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// Registry is host:port of the stack's plain-HTTP OCI registry.
	Registry string
	// EventListenerURL is the address of the stack's default EventListener sink.
	EventListenerURL string
}

var (
	envOnce sync.Once
	envVal  *Env
	envErr  error
)

// Get returns the running stack, starting it (under a file lock, so parallel test packages
// share one) when its binaries exist but it is down. When it cannot be had, the test fails
// under CI=true and is skipped otherwise, with the make target that fixes it.
func Get(t testing.TB) *Env {
	t.Helper()
	envOnce.Do(func() { envVal, envErr = attachOrStart() })
	if envErr != nil {
		msg := fmt.Sprintf("local stack unavailable: %v (run `make testbin stack-up`)", envErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return envVal
}

// Attach returns the running stack outside of a test (the demo), starting it like Get does.
func Attach() (*Env, error) { return attachOrStart() }

func attachOrStart() (*Env, error) {
	c, err := DefaultConfig()
	if err != nil {
		return nil, err
	}
	c.Kwok = true // tests schedule scripted pods onto kwok (KwokNamespace)
	c = c.withRecordedState()
	if !c.apiReady() || !c.allRunning() {
		for _, b := range []string{"etcd", "kube-apiserver", "kubelet", "kwok", "tekton-controller"} {
			if _, err := os.Stat(c.bin(b)); err != nil {
				return nil, fmt.Errorf("test binary %s missing: run `make testbin`", c.bin(b))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := Up(ctx, c, os.Stderr); err != nil {
			return nil, err
		}
		c = c.withRecordedState()
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	e := &Env{Stack: c, Config: cfg, Kubeconfig: c.KubeconfigPath(), Registry: c.RegistryHost(), EventListenerURL: c.EventListenerURL()}
	if e.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if e.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if e.Tekton, err = tektonclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// allRunning reports whether every component's recorded process is alive.
func (c Config) allRunning() bool {
	for _, name := range c.order() {
		if _, ok := c.runningPID(name); !ok {
			return false
		}
	}
	return true
}

// apiReady reports whether the recorded stack's API server answers.
func (c Config) apiReady() bool {
	b, err := os.ReadFile(c.path("pki", "tokens.csv"))
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	token := strings.SplitN(string(b), ",", 2)[0]
	return httpReady(c.APIServerURL()+"/readyz", token)(ctx) == nil
}

// withLock runs fn holding an exclusive lock on the state folder.
func (c Config) withLock(fn func() error) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(c.path(".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
	return fn()
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh namespace for the test (named after it), waits for its default
// ServiceAccount, and deletes it when the test ends. Its pods run on the real node.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	return e.namespace(t, nil)
}

// KwokNamespace is Namespace whose pods all go to the kwok node, where they finish as the kwok
// annotations say (FakeResults, FailTask) without running anything.
func (e *Env) KwokNamespace(t testing.TB) string {
	t.Helper()
	if !e.Stack.Kwok {
		t.Fatalf("the stack runs without the kwok node: start it with `go run ./hack/stack up --kwok` (make stack-up does)")
	}
	return e.namespace(t, kwokNamespaceAnnotations)
}

func (e *Env) namespace(t testing.TB, annotations map[string]string) string {
	t.Helper()
	prefix := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.Trim(prefix[:40], "-")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := e.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "t-" + prefix + "-", Labels: map[string]string{"agentline.dev/test": "true"}, Annotations: annotations,
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create test namespace: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("AGENTLINE_KEEP_NAMESPACES") != "" {
			t.Logf("keeping namespace %s", ns.Name)
			return
		}
		_ = e.Kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	for {
		if _, err := e.Kube.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return ns.Name
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			t.Fatalf("namespace %s: no default ServiceAccount after 30s (is kube-controller-manager running? see %s)", ns.Name, e.Stack.LogFile("kube-controller-manager"))
		}
	}
}

// StartEventListener runs a Triggers EventListener sink for the EventListener ns/name as a child
// of the test process and returns its URL; it is stopped when the test ends.
func (e *Env) StartEventListener(t testing.TB, ns, name string) string {
	t.Helper()
	ports := freePorts(t, 3)
	comp := e.Stack.eventListenerProcess(name, ns, ports[0], ports[1], ports[2])
	logf, err := os.CreateTemp(t.TempDir(), "eventlistener-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(comp.bin, comp.args...)
	cmd.Env = append(os.Environ(), comp.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start eventlistener sink: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if err := waitReady(context.Background(), comp, comp.timeout); err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("eventlistener sink for %s/%s not ready: %v\n%s", ns, name, err, b)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0])
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

var koRef = regexp.MustCompile(`ko://github\.com/agentline/agentline/(cmd/[a-z0-9-]+|hack/pause)`)

// ResolveKo replaces agentline's ko:// image references in s by the images make images pushed
// to the stack's registry (<registry>/agentline/<name>:latest).
func (e *Env) ResolveKo(s string) string {
	return koRef.ReplaceAllStringFunc(s, func(ref string) string {
		return e.Registry + "/agentline/" + path.Base(ref) + ":latest"
	})
}

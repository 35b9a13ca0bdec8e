package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var elGVR = schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1beta1", Resource: "eventlisteners"}

// allComponents is the start order; Down stops in reverse (the Tekton controller before the
// kubelet, the pods before containerd, the API server before etcd).
var allComponents = []string{"registry", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"containerd", "kubelet", "kube-proxy", "coredns", "local-path-provisioner",
	"kwok", "tekton-controller", "interceptors", "eventlistener"}

// order is the start order of the components this configuration runs.
func (c Config) order() []string {
	var out []string
	for _, n := range allComponents {
		if n == "kwok" && !c.Kwok {
			continue
		}
		out = append(out, n)
	}
	return out
}

// ComponentError names the component that failed to start and carries the tail of its log.
type ComponentError struct {
	Component string
	Err       error
	LogTail   string
	LogFile   string
}

func (e *ComponentError) Error() string {
	return fmt.Sprintf("%s failed to start: %v\n--- last lines of %s ---\n%s", e.Component, e.Err, e.LogFile, e.LogTail)
}

func (e *ComponentError) Unwrap() error { return e.Err }

// Up starts every component that is not already running, waits for each to be ready, and
// reports progress to out. A stack that is already up is reused. Concurrent calls (test
// packages, a person running make stack-up) serialise on a lock in the state folder.
func Up(ctx context.Context, c Config, out io.Writer) error {
	return c.withLock(func() error { return up(ctx, c, out) })
}

func up(ctx context.Context, c Config, out io.Writer) error {
	start := time.Now()
	c = c.withRecordedState()
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	if err := c.saveState(); err != nil {
		return err
	}
	k, err := c.ensurePKI()
	if err != nil {
		return err
	}
	if err := c.writeKubeconfig(k.Token); err != nil {
		return err
	}
	var kube kubernetes.Interface
	var restCfg *rest.Config
	kubeFn := func() (kubernetes.Interface, error) {
		if kube != nil {
			return kube, nil
		}
		var err error
		if restCfg, err = c.RESTConfig(); err != nil {
			return nil, err
		}
		kube, err = kubernetes.NewForConfig(restCfg)
		return kube, err
	}
	comps, err := c.components(k, kubeFn)
	if err != nil {
		return err
	}
	reused := 0
	order := c.order()
	for _, name := range order {
		comp := comps[name]
		if name == "kube-controller-manager" { // everything after the API server needs the install
			if _, err := kubeFn(); err != nil {
				return err
			}
			t := time.Now()
			bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			err := c.bootstrap(bctx, restCfg, k)
			cancel()
			if err != nil {
				return fmt.Errorf("installing Tekton and Triggers into the stack: %w", err)
			}
			fmt.Fprintf(out, "stack: installed Tekton and Triggers CRDs and config (%.1fs)\n", time.Since(t).Seconds())
		}
		if name == "containerd" {
			if err := c.writeNodeFiles(); err != nil {
				return fmt.Errorf("writing the node's configuration: %w", err)
			}
		}
		if _, ok := c.runningPID(name); ok {
			if err := waitReady(ctx, comp, 5*time.Second); err == nil {
				reused++
				continue
			}
			fmt.Fprintf(out, "stack: %s runs but is not ready; restarting it\n", name)
			if _, err := c.stop(name, 5*time.Second); err != nil {
				return err
			}
		}
		if port := busyPort(comp.ports); port != 0 {
			return &ComponentError{Component: name, Err: fmt.Errorf("port %d is already in use by a process this stack did not start (another stack? set %s to move the port range)", port, EnvPortBase), LogTail: c.tail(name, 5), LogFile: c.LogFile(name)}
		}
		t := time.Now()
		if _, err := c.start(comp.process); err != nil {
			return &ComponentError{Component: name, Err: err, LogTail: c.tail(name, 20), LogFile: c.LogFile(name)}
		}
		if err := waitReady(ctx, comp, comp.timeout); err != nil {
			return &ComponentError{Component: name, Err: err, LogTail: c.tail(name, 30), LogFile: c.LogFile(name)}
		}
		fmt.Fprintf(out, "stack: %-24s ready (%.1fs)\n", name, time.Since(t).Seconds())
	}
	if reused == len(order) {
		fmt.Fprintf(out, "stack: already up, reusing it (%s)\n", c.Dir)
	}
	fmt.Fprintf(out, "stack: up in %.1fs — KUBECONFIG=%s registry=%s eventlistener=%s\n",
		time.Since(start).Seconds(), c.KubeconfigPath(), c.RegistryHost(), c.EventListenerURL())
	return nil
}

// components are the stack's processes by name.
func (c Config) components(k *pki, kube func() (kubernetes.Interface, error)) (map[string]component, error) {
	comps := map[string]component{
		"registry": c.registry(), "etcd": c.etcd(), "kube-apiserver": c.apiserver(k),
		"kube-controller-manager": c.controllerManager(k), "kube-scheduler": c.scheduler(),
		"containerd": c.containerd(), "kubelet": c.kubelet(kube), "kube-proxy": c.kubeProxy(),
		"coredns": c.coreDNS(), "local-path-provisioner": c.localPathProvisioner(kube),
		"tekton-controller": c.tektonController(), "interceptors": c.interceptors(),
		"eventlistener": c.eventListenerProcess(DefaultEventListener, SystemNamespace, c.Ports.EventListener, c.Ports.ELMetrics, c.Ports.ELProfiling),
	}
	if c.Kwok {
		node, err := c.kwokNode(kube)
		if err != nil {
			return nil, err
		}
		comps["kwok"] = node
	}
	return comps, nil
}

// waitReady polls comp's readiness check until it passes, the process dies, or timeout.
func waitReady(ctx context.Context, comp component, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = comp.ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Down stops the processes the stack started, in reverse start order. With purge it also
// deletes the state folder (etcd data, certificates, logs).
func Down(c Config, purge bool, out io.Writer) error {
	return c.withLock(func() error { return down(c, purge, out) })
}

func down(c Config, purge bool, out io.Writer) error {
	c = c.withRecordedState()
	var errs []error
	for _, name := range extraProcesses {
		if stopped, err := c.stop(name, 10*time.Second); err != nil {
			errs = append(errs, err)
		} else if stopped {
			fmt.Fprintf(out, "stack: stopped %s\n", name)
		}
	}
	for i := len(allComponents) - 1; i >= 0; i-- {
		name := allComponents[i]
		if name == "containerd" {
			// The kubelet is stopped: remove the pods it left so their shims and mounts go too.
			if n, err := c.removePodSandboxes(); err != nil {
				errs = append(errs, err)
			} else if n > 0 {
				fmt.Fprintf(out, "stack: removed %d pod sandboxes\n", n)
			}
		}
		stopped, err := c.stop(name, 10*time.Second)
		if err != nil {
			errs = append(errs, err)
		}
		if stopped {
			fmt.Fprintf(out, "stack: stopped %s\n", name)
		}
		if name == "containerd" {
			if err := c.cleanNodeHost(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if purge {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ComponentStatus is one line of Status.
type ComponentStatus struct {
	Name    string
	PID     int
	Running bool
	Ready   bool
	Detail  string
}

// Status reports each component's process and readiness.
func Status(ctx context.Context, c Config) ([]ComponentStatus, error) {
	c = c.withRecordedState()
	k, err := c.ensurePKI()
	if err != nil {
		return nil, err
	}
	kubeFn := func() (kubernetes.Interface, error) {
		cfg, err := c.RESTConfig()
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(cfg)
	}
	comps, err := c.components(k, kubeFn)
	if err != nil {
		return nil, err
	}
	var out []ComponentStatus
	for _, name := range c.order() {
		s := ComponentStatus{Name: name}
		s.PID, s.Running = c.runningPID(name)
		if s.Running {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := comps[name].ready(cctx); err != nil {
				s.Detail = err.Error()
			} else {
				s.Ready = true
			}
			cancel()
		}
		out = append(out, s)
	}
	return out, nil
}

// EnvLines are shell lines that point a person or a script at the stack.
func EnvLines(c Config) string {
	c = c.withRecordedState()
	lines := []string{
		"export KUBECONFIG=" + c.KubeconfigPath(),
		"export AGENTLINE_REGISTRY=" + c.RegistryHost(),
		"export AGENTLINE_STACK_DIR=" + c.Dir,
		"export AGENTLINE_EVENTLISTENER_URL=" + c.EventListenerURL(),
		"export PATH=" + c.BinDir + ":$PATH",
	}
	return strings.Join(lines, "\n") + "\n"
}

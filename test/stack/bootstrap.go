package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes the admin kubeconfig (token auth; the API server's certificate is
// self-signed by the stack, so TLS verification is skipped for this loopback address only).
func (c Config) writeKubeconfig(token string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["agentline"] = &clientcmdapi.Cluster{Server: c.APIServerURL(), InsecureSkipTLSVerify: true}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["agentline"] = &clientcmdapi.Context{Cluster: "agentline", AuthInfo: "admin", Namespace: "default"}
	kc.CurrentContext = "agentline"
	return clientcmd.WriteToFile(*kc, c.KubeconfigPath())
}

// RESTConfig loads the admin kubeconfig of the stack.
func (c Config) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// moduleDir returns the module cache folder of the module that the helper module
// hack/tools/<tool> pins (downloading it if needed).
func (c Config) moduleDir(tool, module string) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.Root, "hack", "tools", tool, "go.mod"))
	if err != nil {
		return "", err
	}
	version := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			version = f[1]
			break
		}
	}
	if version == "" {
		return "", fmt.Errorf("hack/tools/%s/go.mod does not require %s", tool, module)
	}
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = filepath.Join(c.Root, "hack", "tools", tool)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no Dir in %s", module, version, out)
	}
	return info.Dir, nil
}

// bootstrap installs what the processes after the API server need: Tekton's and Triggers' CRDs
// and config maps, the interceptors' certificate Secret and ClusterInterceptors, the node
// object, agentline's namespace and an empty default EventListener.
func (c Config) bootstrap(ctx context.Context, cfg *rest.Config, k *pki) error {
	ap, err := NewApplier(cfg)
	if err != nil {
		return err
	}
	tekton, err := c.moduleDir("tekton", "github.com/tektoncd/pipeline")
	if err != nil {
		return err
	}
	triggers, err := c.moduleDir("triggers", "github.com/tektoncd/triggers")
	if err != nil {
		return err
	}
	if err := ap.ApplyFiles(ctx,
		filepath.Join(tekton, "config", "100-namespace", "*.yaml"),
		filepath.Join(tekton, "config", "300-crds", "*.yaml"),
		filepath.Join(tekton, "config", "config-*.yaml"),
		filepath.Join(triggers, "config", "300-*.yaml"),
		filepath.Join(triggers, "config", "config-*.yaml"),
	); err != nil {
		return fmt.Errorf("tekton install: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := ensureNamespace(ctx, kube, SystemNamespace); err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: interceptorSecret, Namespace: tektonNamespace},
		Data:       map[string][]byte{"server-key.pem": k.ServerKey, "server-cert.pem": k.ServerCert, "ca-cert.pem": k.CACert},
	}
	if err := createOrUpdateSecret(ctx, kube, secret); err != nil {
		return err
	}
	for _, name := range []string{"github", "gitlab", "bitbucket", "cel", "slack"} {
		ci := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "triggers.tekton.dev/v1alpha1", "kind": "ClusterInterceptor",
			"metadata": map[string]any{"name": name, "labels": map[string]any{"server/type": "https"}},
			"spec": map[string]any{"clientConfig": map[string]any{
				"url":      fmt.Sprintf("https://127.0.0.1:%d/%s", c.Ports.Interceptors, name),
				"caBundle": k.CACert, // []byte marshals to base64, as the API wants
			}},
		}}
		if err := ap.Apply(ctx, ci); err != nil {
			return err
		}
	}
	if c.Kwok {
		if err := ap.Apply(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Node",
			"metadata": map[string]any{
				"name":        kwokNodeName,
				"annotations": map[string]any{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				"labels": map[string]any{"kubernetes.io/hostname": kwokNodeName, "kubernetes.io/os": "linux",
					"kubernetes.io/arch": "amd64", "type": "kwok"},
			},
			// Only pods of KwokNamespace namespaces (which tolerate this) land on the fake node.
			"spec": map[string]any{"taints": []any{map[string]any{"key": KwokTaint, "value": "true", "effect": "NoSchedule"}}},
		}}); err != nil {
			return err
		}
	}
	if err := c.bootstrapNode(ctx, ap); err != nil {
		return err
	}
	return ensureEventListener(ctx, ap, cfg, SystemNamespace, DefaultEventListener)
}

func ensureNamespace(ctx context.Context, kube kubernetes.Interface, name string) error {
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

func createOrUpdateSecret(ctx context.Context, kube kubernetes.Interface, s *corev1.Secret) error {
	_, err := kube.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = kube.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// ensureEventListener creates an EventListener with no triggers when none of that name exists,
// so the sink has something to serve; installing agentline replaces it.
func ensureEventListener(ctx context.Context, ap *Applier, cfg *rest.Config, ns, name string) error {
	gvr := elGVR
	if _, err := ap.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	el := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"triggers": []any{}},
	}}
	_, err := ap.dyn.Resource(gvr).Namespace(ns).Create(ctx, el, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("eventlistener %s/%s: %w", ns, name, err)
	}
	return nil
}

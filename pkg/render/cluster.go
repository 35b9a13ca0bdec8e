package render

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster bundles the clients render uses.
type Cluster struct {
	// Config is the REST config.
	Config *rest.Config
	// Kube is the typed clientset (hooks, namespaces).
	Kube kubernetes.Interface
	// Dynamic applies and reads arbitrary objects.
	Dynamic dynamic.Interface
	// Discovery lists the server's resources.
	Discovery discovery.CachedDiscoveryInterface
	// Mapper maps kinds to resources (discovery-backed, resettable).
	Mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewCluster builds the clients for cfg.
func NewCluster(cfg *rest.Config) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	disc := memory.NewMemCacheClient(kube.Discovery())
	return &Cluster{
		Config: cfg, Kube: kube, Dynamic: dyn, Discovery: disc,
		Mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc),
	}, nil
}

// ConnectCluster loads a kubeconfig (the given path, else KUBECONFIG, ~/.kube/config or the
// in-cluster config) and checks that the API server answers.
func ConnectCluster(ctx context.Context, kubeconfig string) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	c, err := NewCluster(cfg)
	if err != nil {
		return nil, err
	}
	probe := rest.CopyConfig(cfg)
	probe.Timeout = 5 * time.Second
	pc, err := kubernetes.NewForConfig(probe)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if _, err := pc.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("API server %s not reachable: %w", cfg.Host, err)
	}
	return c, nil
}

// Scope returns a discovery-backed Scope.
func (c *Cluster) Scope() Scope { return MapperScope{Mapper: c.Mapper} }

// mapping returns the REST mapping of gvk, refreshing discovery once when the kind is unknown
// (e.g. right after its CRD was created).
func (c *Cluster) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) {
		c.Mapper.Reset()
		m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("kind %s: %w", gvk, err)
	}
	return m, nil
}

// resource returns the dynamic client for o's kind, namespaced when the kind is.
func (c *Cluster) resource(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	m, err := c.mapping(gvk)
	if err != nil {
		return nil, nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(namespace), m, nil
	}
	return c.Dynamic.Resource(m.Resource), m, nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/agentline/agentline/pkg/render"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/stackfile"
)

// renderBootstrapper applies environments[env].slotBootstrapInfra into a fresh slot in-process:
// it loads services.yaml for the slot, renders only those infrastructure items (no services) and
// runs render.Apply, with hooks, like `render apply --only-infra ...` would.
type renderBootstrapper struct {
	config string
	env    string
	rest   *rest.Config
	log    io.Writer
}

var _ slots.Bootstrapper = (*renderBootstrapper)(nil)

// Bootstrap implements slots.Bootstrapper.
func (b *renderBootstrapper) Bootstrap(ctx context.Context, slot int, namespace string) error {
	if b.rest == nil {
		return errors.New("bootstrap unavailable: no REST config for the cluster")
	}
	l, err := stackfile.Load(b.config, stackfile.LoadOptions{Env: b.env, Slot: slot, Namespace: namespace, Environ: os.Environ()})
	if err != nil {
		return err
	}
	names := l.Environment.SlotBootstrapInfra
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		if _, ok := l.Stack.Infra(n); !ok {
			return fmt.Errorf("%s: environments.%s.slotBootstrapInfra: no infrastructure item named %q", b.config, b.env, n)
		}
	}
	cluster, err := render.NewCluster(b.rest)
	if err != nil {
		return err
	}
	if err := ensureNamespace(ctx, cluster, l, namespace); err != nil {
		return err
	}
	var allServices []string
	for _, s := range l.Stack.Services {
		allServices = append(allServices, s.Name)
	}
	res, err := render.Render(l, render.Options{
		Filters: render.Filters{OnlyInfra: names, SkipServices: allServices},
		Scope:   cluster.Scope(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(b.log, "bootstrapping slot %d (namespace %s): %v\n", slot, namespace, names)
	hooks := &render.HookRunner{Loaded: l, Cluster: cluster, Stdout: b.log, Stderr: b.log, Environ: os.Environ()}
	_, err = render.Apply(ctx, cluster, l, res, render.ApplyOptions{Hooks: hooks, Log: b.log})
	return err
}

// ensureNamespace creates the slot namespace, labelled like render labels its objects.
func ensureNamespace(ctx context.Context, c *render.Cluster, l *stackfile.Loaded, ns string) error {
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: render.Labels(l)}}
	_, err := c.Kube.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{FieldManager: render.FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create slot namespace %s: %w", ns, err)
	}
	return nil
}

package tekton_test

import (
	"context"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/agentline/agentline/test/stack"
)

// TestInstallIsAcceptedByTheAPIServer applies the whole install (config/ as kustomize builds it,
// ko:// images replaced by placeholders) to the local stack: every namespaced object for real,
// moved into a test namespace; cluster-scoped objects (ClusterRoles, the ClusterInterceptor, the
// Namespace) as server-side dry runs, so tests running in parallel do not fight over them.
func TestInstallIsAcceptedByTheAPIServer(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	ctx := context.Background()
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	objs := build(t, filepath.Join(repoRoot(t), "config"))
	force := true
	for _, o := range objs {
		if err := placeholderImages(o); err != nil {
			t.Fatal(err)
		}
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s (%s): kind not served: %v", gvk.Kind, o.GetName(), o.GetAnnotations()[sourceAnnotation], err)
		}
		opts := metav1.PatchOptions{FieldManager: "agentline-test", Force: &force}
		ri := env.Dynamic.Resource(m.Resource)
		var patch func() error
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if clusterScoped[gvk.Kind] {
				t.Errorf("%s is namespaced but the test's kustomize loader treats it as cluster-scoped", gvk.Kind)
			}
			o.SetNamespace(ns)
			patch = func() error {
				body, _ := o.MarshalJSON()
				_, err := ri.Namespace(ns).Patch(ctx, o.GetName(), types.ApplyPatchType, body, opts)
				return err
			}
		} else {
			if !clusterScoped[gvk.Kind] {
				t.Errorf("%s is cluster-scoped but the test's kustomize loader would give it a namespace", gvk.Kind)
			}
			opts.DryRun = []string{metav1.DryRunAll}
			patch = func() error {
				body, _ := o.MarshalJSON()
				_, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, opts)
				return err
			}
		}
		if err := patch(); err != nil {
			t.Errorf("API server refused %s %s (%s): %v", gvk.Kind, o.GetName(), o.GetAnnotations()[sourceAnnotation], err)
		}
	}
}

package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"

	"github.com/agentline/agentline/pkg/stackfile"
)

// DestroyOptions configure Destroy.
type DestroyOptions struct {
	// IncludeClusterScoped also deletes cluster-scoped objects carrying this env's labels.
	// Without it no cluster-scoped object is ever deleted.
	IncludeClusterScoped bool
	// Partial means filters selected only some items: only their objects are deleted, there is
	// no label sweep and the slot namespace stays.
	Partial bool
	// Hooks runs the hooks; nil runs none.
	Hooks *HookRunner
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Backoff for transient API errors; zero means the default.
	Backoff wait.Backoff
}

// DestroyResult reports what Destroy deleted.
type DestroyResult struct {
	// Deleted lists the deleted objects (the slot namespace last, when deleted).
	Deleted []ObjectRef
	// Kept lists labelled cluster-scoped objects left in place (no --include-cluster-scoped).
	Kept []ObjectRef
}

var namespaceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

// Destroy deletes what apply labelled for this project/env/slot: the selected items' objects in
// reverse order between their beforeDestroy and afterDestroy hooks, then (unless Partial) every
// other object carrying the labels, and for a slot environment the slot's namespace.
func Destroy(ctx context.Context, c *Cluster, l *stackfile.Loaded, res *Result, opts DestroyOptions) (*DestroyResult, error) {
	if c == nil {
		return nil, errors.New("destroy: no cluster")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Backoff.Steps == 0 {
		opts.Backoff = defaultBackoff
	}
	if err := opts.Hooks.Check(res.Items); err != nil {
		return nil, err
	}
	labels := Labels(l)
	out := &DestroyResult{}
	done := map[objKey]bool{}
	del := func(o *unstructured.Unstructured, namespaced bool) error {
		r := refOf(o)
		if done[r.key()] {
			return nil
		}
		done[r.key()] = true
		if !hasLabels(o.GetLabels(), labels) || (l.Context.Slot == 0 && o.GetLabels()[LabelSlot] != "") {
			return nil
		}
		if !namespaced && !opts.IncludeClusterScoped {
			out.Kept = append(out.Kept, r)
			fmt.Fprintf(opts.Log, "kept cluster-scoped %s (use --include-cluster-scoped to delete it)\n", r)
			return nil
		}
		if err := c.deleteObject(ctx, r, opts.Backoff); err != nil {
			return err
		}
		fmt.Fprintf(opts.Log, "deleted %s\n", r)
		out.Deleted = append(out.Deleted, r)
		return nil
	}

	for i := len(res.Items) - 1; i >= 0; i-- {
		it := res.Items[i]
		if err := opts.Hooks.RunItem(ctx, it, "beforeDestroy", it.Hooks.BeforeDestroy); err != nil {
			return out, err
		}
		for j := len(it.Objects) - 1; j >= 0; j-- {
			o := it.Objects[j]
			ns := o.GetNamespace()
			ri, m, err := c.resource(o.GroupVersionKind(), ns)
			if meta.IsNoMatchError(err) {
				continue // the kind (a CRD) is gone, so are its objects
			}
			if err != nil {
				return out, fmt.Errorf("%s %s: %w", it.Kind, it.Name, err)
			}
			namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
			if namespaced && ns == "" {
				ri = c.Dynamic.Resource(m.Resource).Namespace(l.Context.Namespace)
			}
			live, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("%s %s: get %s: %w", it.Kind, it.Name, refOf(o), err)
			}
			if err := del(live, namespaced); err != nil {
				return out, fmt.Errorf("%s %s: %w", it.Kind, it.Name, err)
			}
		}
		if err := opts.Hooks.RunItem(ctx, it, "afterDestroy", it.Hooks.AfterDestroy); err != nil {
			return out, err
		}
	}
	if opts.Partial {
		return out, nil
	}

	err := c.eachLabelled(ctx, Selector(l), func(o *unstructured.Unstructured, namespaced bool) error {
		if len(o.GetOwnerReferences()) > 0 || o.GroupVersionKind().GroupKind() == namespaceGVK.GroupKind() {
			return nil // garbage-collected with the owner / handled below
		}
		return del(o, namespaced)
	})
	if err != nil {
		return out, err
	}
	if l.Context.Slot > 0 {
		r := ObjectRef{GVK: namespaceGVK, Name: l.Context.Namespace}
		err := c.deleteObject(ctx, r, opts.Backoff)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return out, err
		default:
			fmt.Fprintf(opts.Log, "deleted %s\n", r)
			out.Deleted = append(out.Deleted, r)
		}
	}
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// deleteObject deletes r in the background; NotFound is returned wrapped (callers that do not
// care check for it).
func (c *Cluster) deleteObject(ctx context.Context, r ObjectRef, b wait.Backoff) error {
	policy := metav1.DeletePropagationBackground
	err := retryTransient(ctx, b, func() error {
		ri, _, err := c.resource(r.GVK, r.Namespace)
		if err != nil {
			return err
		}
		return ri.Delete(ctx, r.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	})
	if apierrors.IsNotFound(err) && r.GVK.Kind != "Namespace" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", r, err)
	}
	return nil
}

// eachLabelled calls fn for every object matching selector in every listable, deletable resource
// the server offers (all namespaces).
func (c *Cluster) eachLabelled(ctx context.Context, selector string, fn func(o *unstructured.Unstructured, namespaced bool) error) error {
	lists, err := c.Discovery.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("discovery: %w", err)
	}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range list.APIResources {
			if !slices.Contains(res.Verbs, "list") || !slices.Contains(res.Verbs, "delete") || containsSlash(res.Name) {
				continue
			}
			if gv.Group == "" && (res.Kind == "Event" || res.Kind == "Endpoints") ||
				gv.Group == "events.k8s.io" || gv.Group == "discovery.k8s.io" {
				continue // copies of labels made by controllers, not ours
			}
			gvr := gv.WithResource(res.Name)
			items, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsForbidden(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", gvr, err)
			}
			for i := range items.Items {
				o := &items.Items[i]
				o.SetGroupVersionKind(gv.WithKind(res.Kind))
				if err := fn(o, res.Namespaced); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func containsSlash(s string) bool { return slices.Contains([]byte(s), '/') }

// prune deletes objects this field manager applied with the selector's labels that are not in
// applied (Namespaces are never pruned).
func (c *Cluster) prune(ctx context.Context, selector string, applied map[objKey]bool, opts ApplyOptions) ([]ObjectRef, error) {
	var pruned []ObjectRef
	err := c.eachLabelled(ctx, selector, func(o *unstructured.Unstructured, _ bool) error {
		r := refOf(o)
		if applied[r.key()] || r.GVK.Kind == "Namespace" || len(o.GetOwnerReferences()) > 0 || !managedByUs(o) {
			return nil
		}
		if err := c.deleteObject(ctx, r, opts.Backoff); err != nil {
			return err
		}
		fmt.Fprintf(opts.Log, "pruned %s\n", r)
		pruned = append(pruned, r)
		return nil
	})
	return pruned, err
}

func managedByUs(o *unstructured.Unstructured) bool {
	for _, mf := range o.GetManagedFields() {
		if mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/agentline/agentline/pkg/stackfile"
)

// Shared label names and the field manager (contract between agentline packages).
const (
	LabelProject = "agentline.dev/project"
	LabelEnv     = "agentline.dev/env"
	LabelSlot    = "agentline.dev/slot"
	FieldManager = "agentline"
)

// DefaultWaitTimeout is used when neither --wait-timeout nor codex.timeouts.deployWait is set.
const DefaultWaitTimeout = 10 * time.Minute

// Labels returns the labels apply puts on every object: project, env and (for slots) slot.
func Labels(l *stackfile.Loaded) map[string]string {
	m := map[string]string{LabelProject: l.Stack.Project, LabelEnv: l.Context.Env}
	if l.Context.Slot > 0 {
		m[LabelSlot] = strconv.Itoa(l.Context.Slot)
	}
	return m
}

// Selector is the label selector of the objects apply labelled for this project/env/slot (objects
// of a slot environment are told apart from the slot-less one by the slot label).
func Selector(l *stackfile.Loaded) string {
	s := fmt.Sprintf("%s=%s,%s=%s", LabelProject, l.Stack.Project, LabelEnv, l.Context.Env)
	if l.Context.Slot > 0 {
		return s + fmt.Sprintf(",%s=%d", LabelSlot, l.Context.Slot)
	}
	return s + ",!" + LabelSlot
}

// ObjectRef names one object.
type ObjectRef struct {
	// GVK of the object.
	GVK schema.GroupVersionKind
	// Namespace, empty for cluster-scoped objects.
	Namespace string
	// Name of the object.
	Name string
}

// String formats the reference as Kind namespace/name.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}

// objKey identifies an object independent of the API version it was read or written with.
type objKey struct {
	gk              schema.GroupKind
	namespace, name string
}

func (r ObjectRef) key() objKey { return objKey{r.GVK.GroupKind(), r.Namespace, r.Name} }

func refOf(o *unstructured.Unstructured) ObjectRef {
	return ObjectRef{GVK: o.GroupVersionKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// Prune deletes objects this field manager applied with this env's labels that are no longer
	// rendered.
	Prune bool
	// WaitTimeout bounds the readiness wait; 0 means codex.timeouts.deployWait, else
	// DefaultWaitTimeout.
	WaitTimeout time.Duration
	// WaitSoftFail turns a wait timeout into InfraReady=false instead of an error.
	WaitSoftFail bool
	// Hooks runs the hooks; nil runs none.
	Hooks *HookRunner
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// PollInterval of the readiness wait; 0 means one second.
	PollInterval time.Duration
	// Backoff for transient API errors; zero means a default of about 30 s in total.
	Backoff wait.Backoff
}

// ApplyResult reports what Apply did.
type ApplyResult struct {
	// Applied lists every applied object.
	Applied []ObjectRef
	// Pruned lists the objects deleted by --prune.
	Pruned []ObjectRef
	// InfraReady is true when every Deployment, StatefulSet and Job became ready in time.
	InfraReady bool
	// NotReady describes the objects that were not ready when the wait ended.
	NotReady []string
}

var defaultBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 8, Cap: 10 * time.Second}

func (o *ApplyOptions) defaults(l *stackfile.Loaded) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = l.Stack.Codex.Timeouts.DeployWait.D()
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Backoff.Steps == 0 {
		o.Backoff = defaultBackoff
	}
}

// Apply server-side applies res to the cluster: Namespaces and CRDs first, then every item in
// order between its beforeApply and afterApply hooks, then the optional prune and the readiness
// wait. beforeAll/afterAll hooks run first and last.
func Apply(ctx context.Context, c *Cluster, l *stackfile.Loaded, res *Result, opts ApplyOptions) (*ApplyResult, error) {
	if c == nil {
		return nil, errors.New("apply: no cluster")
	}
	opts.defaults(l)
	if err := opts.Hooks.Check(res.Items); err != nil {
		return nil, err
	}
	labels := Labels(l)
	out := &ApplyResult{}
	prepared := make([][]*unstructured.Unstructured, len(res.Items))
	for i, it := range res.Items {
		for _, o := range it.Objects {
			if o.GetName() == "" {
				return out, fmt.Errorf("%s %s: %s without metadata.name cannot be applied", it.Kind, it.Name, o.GetKind())
			}
			cp := o.DeepCopy()
			cp.SetLabels(mergeLabels(cp.GetLabels(), labels))
			prepared[i] = append(prepared[i], cp)
		}
	}
	if err := opts.Hooks.RunGlobal(ctx, "beforeAll", l.Stack.Hooks.BeforeAll); err != nil {
		return out, err
	}

	// Namespaces and CRDs first, so that everything else has a place and a kind.
	applied := map[objKey]bool{}
	var crds []*unstructured.Unstructured
	for _, objs := range prepared {
		for _, o := range objs {
			if !isFirst(o) {
				continue
			}
			if err := c.applyObject(ctx, o, opts.Backoff); err != nil {
				return out, err
			}
			fmt.Fprintf(opts.Log, "applied %s\n", refOf(o))
			applied[refOf(o).key()] = true
			out.Applied = append(out.Applied, refOf(o))
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o)
			}
		}
	}
	if len(crds) > 0 {
		if err := c.waitCRDs(ctx, crds, opts.PollInterval, opts.WaitTimeout); err != nil {
			return out, err
		}
	}

	for i, it := range res.Items {
		if err := opts.Hooks.RunItem(ctx, it, "beforeApply", it.Hooks.BeforeApply); err != nil {
			return out, err
		}
		for _, o := range prepared[i] {
			if isFirst(o) {
				continue
			}
			if o.GetNamespace() == "" {
				if _, m, err := c.resource(o.GroupVersionKind(), ""); err == nil && m.Scope.Name() == meta.RESTScopeNameNamespace {
					o.SetNamespace(l.Context.Namespace)
				}
			}
			if err := c.applyObject(ctx, o, opts.Backoff); err != nil {
				return out, fmt.Errorf("%s %s: %w", it.Kind, it.Name, err)
			}
			fmt.Fprintf(opts.Log, "applied %s\n", refOf(o))
			applied[refOf(o).key()] = true
			out.Applied = append(out.Applied, refOf(o))
		}
		if err := opts.Hooks.RunItem(ctx, it, "afterApply", it.Hooks.AfterApply); err != nil {
			return out, err
		}
	}

	if opts.Prune {
		for _, r := range opts.Hooks.Applied() {
			applied[r.key()] = true
		}
		pruned, err := c.prune(ctx, Selector(l), applied, opts)
		out.Pruned = pruned
		if err != nil {
			return out, err
		}
	}

	var waitFor []ObjectRef
	for _, r := range out.Applied {
		if isWaitable(r.GVK) {
			waitFor = append(waitFor, r)
		}
	}
	notReady, err := c.WaitReady(ctx, waitFor, opts.WaitTimeout, opts.PollInterval)
	out.NotReady = notReady
	switch {
	case err == nil:
		out.InfraReady = true
	case errors.Is(err, ErrWaitTimeout) && opts.WaitSoftFail:
		fmt.Fprintf(opts.Log, "warning: %v (--wait-soft-fail: infra-ready=false)\n", err)
		return out, nil
	default:
		return out, err
	}
	if err := opts.Hooks.RunGlobal(ctx, "afterAll", l.Stack.Hooks.AfterAll); err != nil {
		return out, err
	}
	return out, nil
}

func mergeLabels(have, add map[string]string) map[string]string {
	out := make(map[string]string, len(have)+len(add))
	for k, v := range have {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	return out
}

func isFirst(o *unstructured.Unstructured) bool {
	gk := o.GroupVersionKind().GroupKind()
	return gk == schema.GroupKind{Kind: "Namespace"} ||
		gk == schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
}

func isWaitable(gvk schema.GroupVersionKind) bool {
	switch gvk.GroupKind() {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"},
		schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
		schema.GroupKind{Group: "batch", Kind: "Job"}:
		return true
	}
	return false
}

// isTransient reports errors worth retrying: conflicts, throttling, timeouts, an unavailable
// server or webhook, and kinds not (yet) known after their CRD was created.
func isTransient(err error) bool {
	switch {
	case apierrors.IsConflict(err), apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err),
		apierrors.IsTimeout(err), apierrors.IsServiceUnavailable(err), meta.IsNoMatchError(err):
		return true
	case apierrors.IsInternalError(err):
		msg := err.Error()
		return strings.Contains(msg, "webhook") || strings.Contains(msg, "etcdserver")
	}
	return false
}

// retryTransient runs fn until it succeeds, fails with a non-transient error, or the backoff is
// used up.
func retryTransient(ctx context.Context, b wait.Backoff, fn func() error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, b, func(context.Context) (bool, error) {
		last = fn()
		if last == nil {
			return true, nil
		}
		if isTransient(last) {
			return false, nil
		}
		return false, last
	})
	if err != nil && last != nil && wait.Interrupted(err) {
		return fmt.Errorf("%w (still failing after retries)", last)
	}
	return err
}

func (c *Cluster) applyObject(ctx context.Context, o *unstructured.Unstructured, b wait.Backoff) error {
	err := retryTransient(ctx, b, func() error {
		ri, _, err := c.resource(o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			return err
		}
		_, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		return err
	})
	if err != nil {
		return fmt.Errorf("apply %s: %w", refOf(o), err)
	}
	return nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// waitCRDs waits until every CRD is Established, then refreshes the REST mapper.
func (c *Cluster) waitCRDs(ctx context.Context, crds []*unstructured.Unstructured, poll, timeout time.Duration) error {
	for _, crd := range crds {
		err := wait.PollUntilContextTimeout(ctx, poll/4+time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			got, err := c.Dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			return conditionTrue(got, "Established"), nil
		})
		if err != nil {
			return fmt.Errorf("CustomResourceDefinition %s not established: %w", crd.GetName(), err)
		}
	}
	c.Mapper.Reset()
	return nil
}

func conditionTrue(o *unstructured.Unstructured, typ string) bool {
	st, _ := conditionStatus(o, typ)
	return st == "True"
}

// conditionStatus returns the status and "reason: message" of condition typ ("" when absent).
func conditionStatus(o *unstructured.Unstructured, typ string) (string, string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		st, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return st, strings.TrimSpace(reason + ": " + msg)
	}
	return "", ""
}

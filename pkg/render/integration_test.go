package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/agentline/agentline/pkg/stackfile"
	"github.com/agentline/agentline/test/stack"
)

// Integration tests run against the local stack (make testbin stack-up); stack.Get skips them
// without it, or fails under CI=true.

const clusterIssuerCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterissuers.cert-manager.io
spec:
  group: cert-manager.io
  names: {kind: ClusterIssuer, listKind: ClusterIssuerList, plural: clusterissuers, singular: clusterissuer}
  scope: Cluster
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func integrationCluster(t *testing.T) (*stack.Env, *Cluster) {
	t.Helper()
	env := stack.Get(t)
	c, err := NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return env, c
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func applyYAML(t *testing.T, ctx context.Context, c *Cluster, y string) {
	t.Helper()
	objs, err := DecodeManifests("test", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := c.applyObject(ctx, o, defaultBackoff); err != nil {
			t.Fatal(err)
		}
		if o.GetKind() == "CustomResourceDefinition" {
			if err := c.waitCRDs(ctx, []*unstructured.Unstructured{o}, 200*time.Millisecond, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func getObj(ctx context.Context, c *Cluster, r ObjectRef) (*unstructured.Unstructured, error) {
	ri, _, err := c.resource(r.GVK, r.Namespace)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, r.Name, metav1.GetOptions{})
}

// gone reports nil once the object is absent (or its namespace is terminating).
func gone(ctx context.Context, c *Cluster, r ObjectRef) error {
	o, err := getObj(ctx, c, r)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.GVK.Kind == "Namespace" && o.GetDeletionTimestamp() != nil {
		return nil
	}
	if o.GetDeletionTimestamp() != nil {
		return nil
	}
	return fmt.Errorf("%s still exists", r)
}

// releaseVolumes drops the protection finalizers of the namespace's PVCs and of pv: the stack's
// kube-controller-manager runs no pvc-protection/pv-protection controller, so they would block
// the namespace's deletion forever.
func releaseVolumes(ctx context.Context, c *Cluster, ns, pv string) {
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if list, err := c.Kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range list.Items {
			_, _ = c.Kube.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
	}
	if pv != "" {
		_, _ = c.Kube.CoreV1().PersistentVolumes().Patch(ctx, pv, types.MergePatchType, patch, metav1.PatchOptions{})
	}
}

func deleteNamespaceAndWait(t *testing.T, ctx context.Context, c *Cluster, name string) {
	t.Helper()
	err := c.Kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	releaseVolumes(ctx, c, name, "")
	eventually(t, 2*time.Minute, "namespace "+name+" deleted", func() error {
		_, err := c.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		releaseVolumes(ctx, c, name, "")
		return fmt.Errorf("namespace %s still there (%v)", name, err)
	})
}

func loadShopfrontFor(t *testing.T, env string, slot int) (*stackfile.Loaded, *Result) {
	t.Helper()
	l := loadShopfront(t, env, slot)
	res, err := Render(l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l, res
}

// prepareShopfront installs what the example needs but does not ship: the ClusterIssuer CRD, the
// worker's namespace and, for slot 2, the workspace PVC; it removes leftovers of earlier runs.
func prepareShopfront(t *testing.T, ctx context.Context, env *stack.Env, c *Cluster) {
	t.Helper()
	for _, ns := range []string{"shopfront-dev-2", "shopfront-ai-staging", "shopfront-jobs"} {
		deleteNamespaceAndWait(t, ctx, c, ns)
	}
	crGVR := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	for _, n := range []string{"shopfront-worker-ai", "shopfront-worker-ai-staging"} {
		_ = c.Dynamic.Resource(crGVR).Delete(ctx, n, metav1.DeleteOptions{})
	}
	applyYAML(t, ctx, c, clusterIssuerCRD)
	issuerGVR := schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	_ = c.Dynamic.Resource(issuerGVR).Delete(ctx, "shop-letsencrypt", metav1.DeleteOptions{})
	// The example's images do not exist here: its pods go to the kwok node.
	for _, ns := range []string{"shopfront-jobs", "shopfront-dev-2", "shopfront-ai-staging"} {
		if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: stack.KwokAnnotations()}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fs := corev1.PersistentVolumeFilesystem
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "shopfront-workspace-itest"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			VolumeMode:                    &fs,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/shopfront-workspace"}},
			// pre-bound, so the binder binds at once
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: "shopfront-dev-2", Name: "shopfront-workspace"},
		},
	}
	_ = c.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	releaseVolumes(ctx, c, "", pv.Name)
	eventually(t, time.Minute, "old PV deleted", func() error {
		_, err := c.Kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.New("PV still there")
	})
	if _, err := c.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "shopfront-workspace", Namespace: "shopfront-dev-2"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: &empty,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := c.Kube.CoreV1().PersistentVolumeClaims("shopfront-dev-2").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods of an unbound claim are unschedulable and the scheduler retries them slowly.
	start := time.Now()
	defer func() { t.Logf("prepared in %s", time.Since(start)) }()
	eventually(t, 2*time.Minute, "workspace PVC bound", func() error {
		got, err := c.Kube.CoreV1().PersistentVolumeClaims("shopfront-dev-2").Get(ctx, pvc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		return nil
	})
	t.Cleanup(func() {
		ctx := context.Background()
		for _, ns := range []string{"shopfront-dev-2", "shopfront-ai-staging", "shopfront-jobs"} {
			_ = c.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		}
		_ = c.Dynamic.Resource(issuerGVR).Delete(ctx, "shop-letsencrypt", metav1.DeleteOptions{})
		for _, n := range []string{"shopfront-worker-ai", "shopfront-worker-ai-staging"} {
			_ = c.Dynamic.Resource(crGVR).Delete(ctx, n, metav1.DeleteOptions{})
		}
		releaseVolumes(ctx, c, "shopfront-dev-2", pv.Name)
		_ = c.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	})
}

func TestIntegrationShopfront(t *testing.T) {
	env, c := integrationCluster(t)
	ctx := testCtx(t, 8*time.Minute)
	prepareShopfront(t, ctx, env, c)
	var log bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	}()
	opts := func(l *stackfile.Loaded) ApplyOptions {
		return ApplyOptions{WaitTimeout: 2 * time.Minute, PollInterval: 200 * time.Millisecond, Log: &log,
			Hooks: &HookRunner{Loaded: l, Cluster: c, Stdout: &log, Stderr: &log}}
	}

	slotL, slotRes := loadShopfrontFor(t, "ai", 2)
	slotObjs := slotRes.Objects()
	rvs := map[ObjectRef]string{}

	t.Run("apply slot 2", func(t *testing.T) {
		start := time.Now()
		ar, err := Apply(ctx, c, slotL, slotRes, opts(slotL))
		t.Logf("apply took %s", time.Since(start))
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if !ar.InfraReady || len(ar.Applied) != len(slotObjs) {
			t.Errorf("infraReady=%v applied=%d (want %d), not ready: %v", ar.InfraReady, len(ar.Applied), len(slotObjs), ar.NotReady)
		}
		for _, o := range slotObjs {
			live, err := getObj(ctx, c, refOf(o))
			if err != nil {
				t.Errorf("%s: %v", refOf(o), err)
				continue
			}
			lb := live.GetLabels()
			if lb[LabelProject] != "shopfront" || lb[LabelEnv] != "ai" || lb[LabelSlot] != "2" {
				t.Errorf("%s labels = %v", refOf(o), lb)
			}
			rvs[refOf(o)] = live.GetResourceVersion()
		}
		if !strings.Contains(log.String(), "worker for slot 2") {
			t.Errorf("the worker's beforeApply hook did not run:\n%s", log.String())
		}
	})

	t.Run("re-apply changes nothing", func(t *testing.T) {
		if len(rvs) == 0 {
			t.Skip("apply failed")
		}
		if _, err := Apply(ctx, c, slotL, slotRes, opts(slotL)); err != nil {
			t.Fatalf("re-apply: %v", err)
		}
		for r, rv := range rvs {
			live, err := getObj(ctx, c, r)
			if err != nil {
				t.Fatal(err)
			}
			if live.GetResourceVersion() != rv {
				t.Errorf("%s: resourceVersion %s -> %s after an identical apply", r, rv, live.GetResourceVersion())
			}
		}
	})

	stagingL, stagingRes := loadShopfrontFor(t, "ai-staging", 0)
	issuer := ObjectRef{GVK: schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "ClusterIssuer"}, Name: "shop-letsencrypt"}
	slotRole := ObjectRef{GVK: schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, Name: "shopfront-worker-ai"}

	t.Run("destroy slot keeps the staging issuer", func(t *testing.T) {
		ar, err := Apply(ctx, c, stagingL, stagingRes, opts(stagingL))
		if err != nil {
			t.Fatalf("apply ai-staging: %v", err)
		}
		if !ar.InfraReady {
			t.Errorf("ai-staging not ready: %v", ar.NotReady)
		}
		if !strings.Contains(log.String(), "staging shopfront-ai-staging applied for shopfront") {
			t.Errorf("the smoke item's afterApply hook did not run")
		}
		dr, err := Destroy(ctx, c, slotL, slotRes, DestroyOptions{Log: &log, Hooks: &HookRunner{Loaded: slotL, Cluster: c, Stdout: &log, Stderr: &log}})
		if err != nil {
			t.Fatalf("destroy slot 2: %v", err)
		}
		for _, o := range slotObjs {
			r := refOf(o)
			switch {
			case r.GVK.Kind == "ClusterRole":
				// cluster-scoped: kept without --include-cluster-scoped
				if _, err := getObj(ctx, c, r); err != nil {
					t.Errorf("%s deleted without --include-cluster-scoped: %v", r, err)
				}
			case r.Namespace == "shopfront-jobs":
				// re-labelled by the ai-staging apply: no longer the slot's
				if _, err := getObj(ctx, c, r); err != nil {
					t.Errorf("%s (now ai-staging's) deleted: %v", r, err)
				}
			default:
				eventually(t, time.Minute, r.String()+" gone", func() error { return gone(ctx, c, r) })
			}
		}
		if !containsRef(dr.Deleted, ObjectRef{GVK: namespaceGVK, Name: "shopfront-dev-2"}) {
			t.Errorf("slot namespace not deleted: %v", dr.Deleted)
		}
		if !containsRef(dr.Kept, slotRole) {
			t.Errorf("kept = %v, want %s", dr.Kept, slotRole)
		}
		if _, err := getObj(ctx, c, issuer); err != nil {
			t.Errorf("the ai-staging ClusterIssuer is gone after destroying slot 2: %v", err)
		}

		// With --include-cluster-scoped only this env's labelled cluster-scoped objects go.
		if _, err := Destroy(ctx, c, slotL, slotRes, DestroyOptions{IncludeClusterScoped: true, Log: &log}); err != nil {
			t.Fatalf("destroy slot 2 --include-cluster-scoped: %v", err)
		}
		eventually(t, time.Minute, "slot ClusterRole gone", func() error { return gone(ctx, c, slotRole) })
		if _, err := getObj(ctx, c, issuer); err != nil {
			t.Errorf("--include-cluster-scoped deleted another env's ClusterIssuer: %v", err)
		}
	})
}

func containsRef(refs []ObjectRef, r ObjectRef) bool {
	for _, x := range refs {
		if x.key() == r.key() {
			return true
		}
	}
	return false
}

// testStack writes a small stack whose objects live in ns.
func testStack(t *testing.T, project, extra string, files map[string]string) string {
	t.Helper()
	all := map[string]string{"services.yaml": "project: " + project + "\n" + extra}
	for k, v := range files {
		all[k] = v
	}
	return writeFiles(t, all)
}

func TestIntegrationWaitTimeoutAndSoftFail(t *testing.T) {
	env, c := integrationCluster(t)
	ns := env.KwokNamespace(t)
	ctx := testCtx(t, 3*time.Minute)
	path := testStack(t, "itest-wait", "services: [{name: never, manifests: [{path: never.yaml}]}]\n", map[string]string{
		"never.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: never}
spec:
  selector: {matchLabels: {app: never}}
  template:
    metadata: {labels: {app: never}}
    spec:
      nodeSelector: {agentline.dev/no-such-node: "true"}
      containers: [{name: c, image: busybox}]
`,
	})
	l, err := stackfile.Load(path, stackfile.LoadOptions{Env: "dev", Namespace: ns, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(l, Options{Scope: c.Scope()})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := Apply(ctx, c, l, res, ApplyOptions{WaitTimeout: 3 * time.Second, PollInterval: 200 * time.Millisecond})
	if err == nil || !errors.Is(err, ErrWaitTimeout) {
		t.Fatalf("apply err = %v, want a wait timeout", err)
	}
	if want := "Deployment " + ns + "/never"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "replicas available") {
		t.Errorf("error %q does not name %s and why", err, want)
	}
	if ar.InfraReady {
		t.Error("InfraReady after a timeout")
	}

	// Through the binary's code path: --wait-soft-fail gives infra-ready=false and success.
	dir := t.TempDir()
	cli, err := ParseCLI([]string{"apply", "--config", path, "--env", "dev", "--namespace", ns, "--kubeconfig", env.Kubeconfig,
		"--wait-timeout", "2s", "--wait-soft-fail", "--results-dir", dir}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := cli.Run(ctx, &out, &errOut); err != nil {
		t.Fatalf("apply --wait-soft-fail: %v\n%s", err, errOut.String())
	}
	for name, want := range map[string]string{ResultInfraReady: "false", ResultNamespace: ns, ResultObjects: "1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("result %s = %q, %v; want %q", name, b, err, want)
		}
	}
}

func TestIntegrationHooksPruneAndBuiltins(t *testing.T) {
	env, c := integrationCluster(t)
	ns := env.KwokNamespace(t)
	staging := env.KwokNamespace(t)
	ctx := testCtx(t, 3*time.Minute)
	// A TLS Secret in the "staging" namespace for codex.reuse-dev-tls-secret to copy.
	if _, err := c.Kube.CoreV1().Secrets(staging).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "dev-tls", Annotations: map[string]string{"cert-manager.io/issuer-name": "x"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": []byte("crt"), "tls.key": []byte("key")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	markers := t.TempDir()
	stackYAML := fmt.Sprintf(`hooks:
  beforeAll:
    - {name: check, use: preflight, with: {registry: %q}}
    - {name: keys, use: codex.ensure-codex-secrets}
    - {name: tls, use: codex.reuse-dev-tls-secret, with: {secretName: dev-tls, stagingNamespace: %q}}
infrastructure:
  - name: base
    manifests: [{path: cm.yaml}]
    hooks:
      afterApply:
        - {name: wait, use: kubectl.wait, with: {kind: ConfigMap, name: a, condition: Ready, timeout: 1s}, continueOnError: true}
        - {run: 'touch %[3]s/base-$SLOT-$NAMESPACE'}
  - name: filtered
    manifests: [{path: cm2.yaml}]
    hooks: {beforeApply: [{run: 'touch %[3]s/filtered'}], afterApply: [{run: 'touch %[3]s/filtered'}]}
  - name: off
    when: '{{ eq .Env "prod" }}'
    hooks: {beforeApply: [{run: 'touch %[3]s/off'}]}
`, env.Registry, staging, markers)
	files := map[string]string{
		"cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
		"cm2.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filtered}\n",
	}
	path := testStack(t, "itest-hooks", stackYAML, files)
	const secretValue = "sk-itest-value-1234"
	load := func() *stackfile.Loaded {
		l, err := stackfile.Load(path, stackfile.LoadOptions{Env: "dev", Namespace: ns, Environ: []string{"OPENAI_API_KEY=" + secretValue}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := load()
	res, err := Render(l, Options{Scope: c.Scope(), Filters: Filters{SkipInfra: []string{"FILTERED"}}})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	hooks := &HookRunner{Loaded: l, Cluster: c, Stdout: &log, Stderr: &log, Environ: []string{"PATH=" + os.Getenv("PATH")}}
	if _, err := Apply(ctx, c, l, res, ApplyOptions{Hooks: hooks, Log: &log, WaitTimeout: 30 * time.Second}); err != nil {
		t.Fatalf("apply: %v\n%s", err, log.String())
	}
	for name, want := range map[string]bool{"base-0-" + ns: true, "filtered": false, "off": false} {
		if _, err := os.Stat(filepath.Join(markers, name)); (err == nil) != want {
			t.Errorf("hook marker %s exists = %v, want %v", name, err == nil, want)
		}
	}
	if strings.Contains(log.String(), secretValue) {
		t.Error("the API key value appears in the log")
	}
	sec, err := c.Kube.CoreV1().Secrets(ns).Get(ctx, DefaultCodexSecretName, metav1.GetOptions{})
	if err != nil || string(sec.Data["OPENAI_API_KEY"]) != secretValue {
		t.Errorf("codex secret = %v, %v", sec, err)
	}
	tls, err := c.Kube.CoreV1().Secrets(ns).Get(ctx, "dev-tls", metav1.GetOptions{})
	if err != nil || tls.Type != corev1.SecretTypeTLS || string(tls.Data["tls.key"]) != "key" || tls.Annotations["cert-manager.io/issuer-name"] != "x" {
		t.Errorf("copied TLS secret = %v, %v", tls, err)
	}
	if !strings.Contains(log.String(), "no condition Ready") {
		t.Errorf("kubectl.wait on a ConfigMap should time out naming the missing condition:\n%s", log.String())
	}

	// Prune: drop ConfigMap b from the manifests; an object with the same labels that another
	// field manager created is left alone.
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "not-ours", Namespace: ns, Labels: Labels(l)}}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = load()
	res, err = Render(l, Options{Scope: c.Scope(), Filters: Filters{SkipInfra: []string{"filtered"}}})
	if err != nil {
		t.Fatal(err)
	}
	hooks = &HookRunner{Loaded: l, Cluster: c, Stdout: &log, Stderr: &log, Environ: []string{"PATH=" + os.Getenv("PATH")}}
	ar, err := Apply(ctx, c, l, res, ApplyOptions{Prune: true, Hooks: hooks, Log: &log, WaitTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("apply --prune: %v", err)
	}
	cmGVK := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	if len(ar.Pruned) != 1 || !containsRef(ar.Pruned, ObjectRef{GVK: cmGVK, Namespace: ns, Name: "b"}) {
		t.Errorf("pruned = %v, want only ConfigMap b (the hook-made Secrets stay)", ar.Pruned)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "not-ours", metav1.GetOptions{}); err != nil {
		t.Errorf("prune deleted an object another manager created: %v", err)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{}); err != nil {
		t.Errorf("prune deleted a rendered object: %v", err)
	}
}

func TestIntegrationDiscoveryScope(t *testing.T) {
	_, c := integrationCluster(t)
	ctx := testCtx(t, time.Minute)
	applyYAML(t, ctx, c, clusterIssuerCRD)
	s := c.Scope()
	for gvk, want := range map[schema.GroupVersionKind]bool{
		{Group: "cert-manager.io", Version: "v1", Kind: "ClusterIssuer"}:         false,
		{Group: "tekton.dev", Version: "v1", Kind: "Task"}:                       true,
		{Version: "v1", Kind: "ConfigMap"}:                                       true,
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}: false,
		{Group: "example.invalid", Version: "v1", Kind: "Namespace"}:             true, // unknown group: built-in list by group+kind
	} {
		if got := s.Namespaced(gvk); got != want {
			t.Errorf("Namespaced(%s) = %v, want %v", gvk, got, want)
		}
	}
	// Rendering with discovery gives the same objects as the reference renders.
	for _, tc := range []struct {
		env  string
		slot int
		file string
	}{{"ai", 2, "ai-slot2.yaml"}, {"ai-staging", 0, "ai-staging.yaml"}} {
		res, err := Render(loadShopfront(t, tc.env, tc.slot), Options{Scope: s})
		if err != nil {
			t.Fatal(err)
		}
		compareExpected(t, res.Objects(), tc.file)
	}
}

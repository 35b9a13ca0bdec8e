package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/test/install"
	"github.com/agentline/agentline/test/stack"
)

// Install applies agentline's install (config/, with its ko:// images resolved to the images
// make images pushed) with the demo's settings: the GitHub fake's URL and tokens, the sample's
// agent image and model, and the ai-staging namespace's bindings (an administrator's job).
func (d *Driver) Install(ctx context.Context) error {
	st := d.state
	start := time.Now()
	objs, err := install.Build(d.Env.Stack.Root, filepath.Join(d.Env.Stack.Root, "config"))
	if err != nil {
		return err
	}
	install.Strip(objs)
	ap, err := stack.NewApplier(d.Env.Config)
	if err != nil {
		return err
	}
	agentEnv := map[string]string{"REGISTRY_HOST": d.Env.Registry}
	if d.OpenAIKey != "" {
		agentEnv["OPENAI_API_KEY"] = d.OpenAIKey
	} else {
		agentEnv["MODEL_URL"], agentEnv["LOCAL_MODEL_KEY"] = st.ModelURL, st.ModelKey
	}
	// The namespace and the Secrets first: the controller mounts them.
	if err := ap.Apply(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": SystemNamespace}}}); err != nil {
		return err
	}
	secrets := map[string]map[string]string{
		"agentline-github":         {"token": st.BotToken},
		"agentline-github-webhook": {"secret": st.WebhookSecret},
		"agentline-agent":          agentEnv,
	}
	for name, data := range secrets {
		s := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": name, "namespace": SystemNamespace},
			"stringData": toAny(data),
		}}
		if err := ap.Apply(ctx, s); err != nil {
			return err
		}
	}
	for _, o := range objs {
		b, err := o.MarshalJSON()
		if err != nil {
			return err
		}
		if err := o.UnmarshalJSON([]byte(d.Env.ResolveKo(string(b)))); err != nil {
			return err
		}
		switch {
		case o.GetKind() == "PersistentVolumeClaim" && o.GetName() == "agentline-workspace":
			// The node's local-path volumes are ReadWriteOnce; Tekton's affinity assistant keeps
			// a run's pods on the node that holds the volume.
			_ = unstructured.SetNestedStringSlice(o.Object, []string{"ReadWriteOnce"}, "spec", "accessModes")
			_ = unstructured.SetNestedField(o.Object, "4Gi", "spec", "resources", "requests", "storage")
		case o.GetKind() == "Deployment" && o.GetName() == controllerName:
			// A changed Secret restarts the controller (mounted Secrets update only after a while).
			_ = unstructured.SetNestedField(o.Object, secretsHash(secrets), "spec", "template", "metadata", "annotations", "agentline.dev/demo-secrets")
		case o.GetKind() == "ConfigMap" && o.GetName() == "agentline-config":
			for k, v := range map[string]string{
				"allowed-users": Owner, "ignored-users": Bot, "github-url": st.GitHubURL + "/api/v3/",
				"agent-image": d.Env.Registry + "/agentline/agent:latest", "max-slots": "2",
			} {
				_ = unstructured.SetNestedField(o.Object, v, "data", k)
			}
		}
		if err := ap.Apply(ctx, o); err != nil {
			return err
		}
	}
	// ai-staging is not a slot: an administrator creates its namespace and bindings once.
	staging := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, StagingNamespace)
	bindings := []string{staging}
	for _, b := range [][2]string{{"agentline-render", "agentline-slot-render"}, {"agentline-agent", "agentline-slot-agent"}} {
		sa := "agentline-run"
		if b[0] == "agentline-agent" {
			sa = "agentline-agent"
		}
		bindings = append(bindings, fmt.Sprintf(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":%q,"namespace":%q},`+
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":%q},"subjects":[{"kind":"ServiceAccount","name":%q,"namespace":%q}]}`,
			b[0], StagingNamespace, b[1], sa, SystemNamespace))
	}
	for _, j := range bindings {
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON([]byte(j)); err != nil {
			return err
		}
		if err := ap.Apply(ctx, o); err != nil {
			return err
		}
	}
	d.printf("✓ installed agentline from config/ (%d objects, images from %s) in %.0fs\n", len(objs), d.Env.Registry, time.Since(start).Seconds())
	return d.waitController(ctx)
}

func secretsHash(secrets map[string]map[string]string) string {
	b, _ := json.Marshal(secrets) // maps marshal in key order
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// waitController waits for the controller Deployment's new pods to be ready (a changed Secret
// or image rolls it).
func (d *Driver) waitController(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		dep, err := d.Env.Kube.AppsV1().Deployments(SystemNamespace).Get(ctx, controllerName, metav1.GetOptions{})
		if err == nil && dep.Status.ObservedGeneration >= dep.Generation && dep.Status.UpdatedReplicas == *dep.Spec.Replicas &&
			dep.Status.ReadyReplicas == *dep.Spec.Replicas && dep.Status.Replicas == *dep.Spec.Replicas {
			// Ready pods: wait until a signed ping is accepted through the Service (an old pod
			// with an earlier secret may still answer for a moment after a rollout).
			if err = d.pings(ctx, 3); err == nil {
				url, _ := d.controllerURL(ctx)
				d.printf("✓ controller %s/%s ready, webhook endpoint %s\n", SystemNamespace, controllerName, url)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("controller Deployment not ready after 3m (kubectl -n %s describe deploy %s): %v", SystemNamespace, controllerName, err)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// pings wants n signed pings in a row accepted.
func (d *Driver) pings(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		res, err := d.deliver(ctx, "ping", 0)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("ping answered %d: %s", res.StatusCode, strings.TrimSpace(res.Body))
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// resetIfStale clears what an earlier demo left in the cluster when the Server is new (its
// GitHub has no issue yet): runs, slot Leases and namespaces, and the workspace volume hold
// checkouts of a repository that no longer exists.
func (d *Driver) resetIfStale(ctx context.Context) error {
	if d.state.Issue != 0 {
		return nil
	}
	tekton := d.Env.Tekton.TektonV1().PipelineRuns(SystemNamespace)
	prs, err := tekton.List(ctx, metav1.ListOptions{})
	if err != nil || len(prs.Items) == 0 {
		return err
	}
	d.printf("→ a new GitHub fake: clearing %d runs, the slots and the workspace of an earlier demo\n", len(prs.Items))
	bg := metav1.DeletePropagationForeground
	if err := tekton.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{}); err != nil {
		return err
	}
	leases := d.Env.Kube.CoordinationV1().Leases(SystemNamespace)
	if err := leases.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: slots.LabelProject + "=" + project}); err != nil {
		return err
	}
	nss, err := d.Env.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=" + project})
	if err != nil {
		return err
	}
	var gone []func() bool
	for _, ns := range nss.Items {
		// Only the demo's slot namespaces: other tests apply the shopfront example's.
		if !strings.HasPrefix(ns.Name, strings.TrimSuffix(slotNamespace(0), "0")) {
			continue
		}
		if err := d.Env.Kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		name := ns.Name
		gone = append(gone, func() bool {
			_, err := d.Env.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	}
	pvcs := d.Env.Kube.CoreV1().PersistentVolumeClaims(SystemNamespace)
	if err := pvcs.Delete(ctx, "agentline-workspace", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	gone = append(gone, func() bool {
		_, err := pvcs.Get(ctx, "agentline-workspace", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	deadline := time.Now().Add(3 * time.Minute)
	for _, g := range gone {
		for !g() {
			if time.Now().After(deadline) {
				return fmt.Errorf("an earlier demo's slot namespaces or workspace PVC are not gone after 3m")
			}
			if err := sleep(ctx, time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

package runs

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Keys of the `agentline-config` ConfigMap read by ConfigFromMap (other keys are ignored).
const (
	// KeyRunNamespace is the namespace PipelineRuns are created in. Default `agentline-system`.
	KeyRunNamespace = "run-namespace"
	// KeyRunServiceAccount is the service account of the runs' TaskRuns
	// (spec.taskRunTemplate.serviceAccountName). Default: unset (Tekton's default).
	KeyRunServiceAccount = "run-service-account"
	// KeyWorkspaceName is the Pipeline workspace bound for the checkout. Default `source`.
	KeyWorkspaceName = "workspace-name"
	// KeyWorkspacePVC binds the workspace to this existing PersistentVolumeClaim instead of a
	// per-run volumeClaimTemplate.
	KeyWorkspacePVC = "workspace-pvc"
	// KeyWorkspaceSize is the storage request of the per-run volumeClaimTemplate
	// (ReadWriteOnce). Default `1Gi`.
	KeyWorkspaceSize = "workspace-size"
	// KeyWorkspaceStorageClass is the storage class of the volumeClaimTemplate. Default: unset.
	KeyWorkspaceStorageClass = "workspace-storage-class"
	// KeyWorkspaces, when set, is a YAML list of Tekton v1 WorkspaceBindings used for every
	// Pipeline instead of the single binding described by the workspace-* keys, e.g.
	//
	//	- name: source
	//	  volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
	//	- name: github
	//	  secret: {secretName: agentline-github}
	KeyWorkspaces = "workspaces"
	// KeyWorkspacesPrefix + a pipeline name (e.g. `workspaces.cleanup`) is a YAML list of
	// WorkspaceBindings for that Pipeline only.
	KeyWorkspacesPrefix = "workspaces."
)

// Config says where and how PipelineRuns are created.
type Config struct {
	// Namespace of the PipelineRuns.
	Namespace string
	// ServiceAccountName of the TaskRuns (empty: Tekton's default).
	ServiceAccountName string
	// Workspaces are bound in every PipelineRun unless PipelineWorkspaces has the pipeline.
	Workspaces []v1.WorkspaceBinding
	// PipelineWorkspaces overrides Workspaces per pipeline name.
	PipelineWorkspaces map[string][]v1.WorkspaceBinding
}

// DefaultConfig returns the configuration used when the ConfigMap sets nothing.
func DefaultConfig() Config {
	c, err := ConfigFromMap(nil)
	if err != nil {
		panic(err) // the defaults are constants
	}
	return c
}

// WorkspacesFor returns the workspace bindings of a pipeline (deep copies).
func (c Config) WorkspacesFor(pipeline string) []v1.WorkspaceBinding {
	ws, ok := c.PipelineWorkspaces[pipeline]
	if !ok {
		ws = c.Workspaces
	}
	out := make([]v1.WorkspaceBinding, len(ws))
	for i := range ws {
		ws[i].DeepCopyInto(&out[i])
	}
	return out
}

// ConfigFromMap reads Config from the data of the `agentline-config` ConfigMap. Errors name
// the offending key.
func ConfigFromMap(data map[string]string) (Config, error) {
	get := func(k, def string) string {
		if v, ok := data[k]; ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	c := Config{
		Namespace:          get(KeyRunNamespace, "agentline-system"),
		ServiceAccountName: get(KeyRunServiceAccount, ""),
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return Config{}, fmt.Errorf("agentline-config: key %q: %q: %s", KeyRunNamespace, c.Namespace, strings.Join(errs, "; "))
	}
	if c.ServiceAccountName != "" {
		if errs := validation.IsDNS1123Subdomain(c.ServiceAccountName); len(errs) > 0 {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q: %s", KeyRunServiceAccount, c.ServiceAccountName, strings.Join(errs, "; "))
		}
	}
	if v := get(KeyWorkspaces, ""); v != "" {
		ws, err := parseBindings(KeyWorkspaces, v)
		if err != nil {
			return Config{}, err
		}
		c.Workspaces = ws
	} else {
		ws, err := simpleBinding(get(KeyWorkspaceName, "source"), get(KeyWorkspacePVC, ""),
			get(KeyWorkspaceSize, "1Gi"), get(KeyWorkspaceStorageClass, ""))
		if err != nil {
			return Config{}, err
		}
		c.Workspaces = []v1.WorkspaceBinding{ws}
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pipeline, ok := strings.CutPrefix(k, KeyWorkspacesPrefix)
		if !ok {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(pipeline); len(errs) > 0 {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not a pipeline name", k, pipeline)
		}
		ws, err := parseBindings(k, data[k])
		if err != nil {
			return Config{}, err
		}
		if c.PipelineWorkspaces == nil {
			c.PipelineWorkspaces = map[string][]v1.WorkspaceBinding{}
		}
		c.PipelineWorkspaces[pipeline] = ws
	}
	return c, nil
}

func simpleBinding(name, pvc, size, class string) (v1.WorkspaceBinding, error) {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return v1.WorkspaceBinding{}, fmt.Errorf("agentline-config: key %q: %q: %s", KeyWorkspaceName, name, strings.Join(errs, "; "))
	}
	b := v1.WorkspaceBinding{Name: name}
	if pvc != "" {
		if errs := validation.IsDNS1123Subdomain(pvc); len(errs) > 0 {
			return v1.WorkspaceBinding{}, fmt.Errorf("agentline-config: key %q: %q: %s", KeyWorkspacePVC, pvc, strings.Join(errs, "; "))
		}
		b.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc}
		return b, nil
	}
	q, err := resource.ParseQuantity(size)
	if err != nil || q.Sign() <= 0 {
		return v1.WorkspaceBinding{}, fmt.Errorf("agentline-config: key %q: %q is not a positive storage quantity", KeyWorkspaceSize, size)
	}
	spec := corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}},
	}
	if class != "" {
		spec.StorageClassName = &class
	}
	b.VolumeClaimTemplate = &corev1.PersistentVolumeClaim{Spec: spec}
	return b, nil
}

func parseBindings(key, text string) ([]v1.WorkspaceBinding, error) {
	var ws []v1.WorkspaceBinding
	if err := yaml.UnmarshalStrict([]byte(text), &ws); err != nil {
		return nil, fmt.Errorf("agentline-config: key %q: not a YAML list of Tekton WorkspaceBindings: %w", key, err)
	}
	seen := map[string]bool{}
	for i := range ws {
		if ws[i].Name == "" {
			return nil, fmt.Errorf("agentline-config: key %q: workspace %d has no name", key, i)
		}
		if fe := ws[i].Validate(context.Background()); fe != nil {
			return nil, fmt.Errorf("agentline-config: key %q: workspace %d (%q): %s", key, i, ws[i].Name, fe.Error())
		}
		if seen[ws[i].Name] {
			return nil, fmt.Errorf("agentline-config: key %q: workspace %q bound twice", key, ws[i].Name)
		}
		seen[ws[i].Name] = true
	}
	return ws, nil
}

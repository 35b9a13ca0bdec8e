package render

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/agentline/agentline/pkg/stackfile"
)

// DefaultCodexSecretName is the Secret codex.ensure-codex-secrets writes unless with.secretName
// says otherwise.
const DefaultCodexSecretName = "codex-secrets"

// DefaultCodexKeys are the environment values codex.ensure-codex-secrets requires by default.
var DefaultCodexKeys = []string{"OPENAI_API_KEY"}

var secretGVK = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}

// with renders the string value of a builtin argument.
func (h *HookRunner) with(label string, s stackfile.HookStep, key string) (string, error) {
	v := s.WithString(key)
	if v == "" {
		return "", nil
	}
	out, err := h.Loaded.RenderString(label+" with."+key, v)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

func (h *HookRunner) builtin(ctx context.Context, label string, s stackfile.HookStep) error {
	if s.Use != stackfile.BuiltinSleep && s.Use != stackfile.BuiltinGitHubComment && h.Cluster == nil {
		return fmt.Errorf("%s: no cluster connection", s.Use)
	}
	switch s.Use {
	case stackfile.BuiltinSleep:
		d, err := h.withDuration(label, s, "duration", 0)
		if err != nil {
			return err
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	case stackfile.BuiltinKubectlWait:
		return h.kubectlWait(ctx, label, s)
	case stackfile.BuiltinGitHubComment:
		return h.githubComment(ctx, label, s)
	case stackfile.BuiltinPreflight:
		return h.preflight(ctx, label, s)
	case stackfile.BuiltinEnsureCodexSecrets:
		return h.ensureCodexSecrets(ctx, label, s)
	case stackfile.BuiltinReuseDevTLSSecret:
		return h.reuseTLSSecret(ctx, label, s)
	}
	return fmt.Errorf("unknown builtin %q", s.Use)
}

func (h *HookRunner) withDuration(label string, s stackfile.HookStep, key string, def time.Duration) (time.Duration, error) {
	v, err := h.with(label, s, key)
	if err != nil || v == "" {
		return def, err
	}
	d, err := stackfile.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("with.%s: %w", key, err)
	}
	return d, nil
}

// kubectlWait waits for a condition of one object through client-go: {kind, name, namespace,
// condition (default Available), timeout (default 1200s)}. Deployments, StatefulSets and Jobs
// without such a condition entry are judged by their readiness instead (a StatefulSet has no
// Ready condition).
func (h *HookRunner) kubectlWait(ctx context.Context, label string, s stackfile.HookStep) error {
	args := map[string]string{}
	for _, k := range []string{"kind", "name", "namespace", "condition"} {
		v, err := h.with(label, s, k)
		if err != nil {
			return err
		}
		args[k] = v
	}
	if args["kind"] == "" || args["name"] == "" {
		return errors.New("kubectl.wait: with.kind and with.name are required")
	}
	if args["namespace"] == "" {
		args["namespace"] = h.Loaded.Context.Namespace
	}
	if args["condition"] == "" {
		args["condition"] = "Available"
	}
	timeout, err := h.withDuration(label, s, "timeout", 1200*time.Second)
	if err != nil {
		return err
	}
	c := h.Cluster
	gvk, err := c.Mapper.KindFor(schema.GroupVersionResource{Resource: strings.ToLower(args["kind"])})
	if err != nil {
		return fmt.Errorf("kubectl.wait: kind %q: %w", args["kind"], err)
	}
	ref := ObjectRef{GVK: gvk, Namespace: args["namespace"], Name: args["name"]}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reason := "not found"
	for {
		ri, _, err := c.resource(gvk, ref.Namespace)
		if err != nil {
			return err
		}
		o, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			ok, why := waitCondition(o, args["condition"])
			if ok {
				h.logf("%s: %s is %s", label, ref, args["condition"])
				return nil
			}
			reason = why
		case apierrors.IsNotFound(err):
			reason = "not found"
		case ctx.Err() == nil && !isTransient(err):
			return fmt.Errorf("kubectl.wait: get %s: %w", ref, err)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("kubectl.wait: %s not %s after %s: %s", ref, args["condition"], timeout, reason)
		case <-t.C:
		}
	}
}

func waitCondition(o *unstructured.Unstructured, cond string) (bool, string) {
	st, why := conditionStatus(o, cond)
	if st != "" {
		return strings.EqualFold(st, "True"), fmt.Sprintf("%s=%s (%s)", cond, st, why)
	}
	switch o.GetKind() {
	case "Deployment", "StatefulSet", "Job":
		if slices.Contains([]string{"ready", "available", "complete"}, strings.ToLower(cond)) {
			ready, reason, _ := Readiness(o)
			return ready, reason
		}
	}
	return false, fmt.Sprintf("no condition %s%s", cond, conditionsText(o))
}

func (h *HookRunner) githubComment(ctx context.Context, label string, s stackfile.HookStep) error {
	body, err := h.with(label, s, "body")
	if err != nil {
		return err
	}
	num := ""
	for _, k := range []string{"issue", "pr"} {
		if num, err = h.with(label, s, k); err != nil {
			return err
		}
		if num != "" {
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimPrefix(num, "#"))
	if err != nil || n <= 0 {
		return fmt.Errorf("github.comment: with.issue or with.pr must be a number, got %q", num)
	}
	if body == "" {
		return errors.New("github.comment: with.body is empty")
	}
	if h.GitHub == nil {
		return errors.New("github.comment: no GitHub client configured")
	}
	if err := h.GitHub.Comment(ctx, n, body); err != nil {
		return fmt.Errorf("github.comment on #%d: %w", n, err)
	}
	return nil
}

// preflight checks that the API server answers and that the registry (with.registry, else the
// stack's registry) answers on /v2/.
func (h *HookRunner) preflight(ctx context.Context, label string, s stackfile.HookStep) error {
	if _, err := h.Cluster.Kube.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("preflight: API server not reachable: %w", err)
	}
	reg, err := h.with(label, s, "registry")
	if err != nil {
		return err
	}
	if reg == "" {
		reg = h.Loaded.Stack.Registry
	}
	if reg == "" {
		h.logf("%s: cluster reachable; no registry configured", label)
		return nil
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var errs []error
	for _, scheme := range []string{"https", "http"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+reg+"/v2/", nil)
		if err != nil {
			return fmt.Errorf("preflight: registry %q: %w", reg, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
			h.logf("%s: cluster and registry %s reachable", label, reg)
			return nil
		}
		errs = append(errs, fmt.Errorf("%s://%s/v2/: HTTP %d", scheme, reg, resp.StatusCode))
	}
	return fmt.Errorf("preflight: registry %s not reachable: %w", reg, errors.Join(errs...))
}

// ensureCodexSecrets writes the agent's API keys from EnvMap into a Secret in the namespace
// (with.secretName, default codex-secrets). Keys: with.keys (comma-separated, all required),
// else OPENAI_API_KEY (required) plus the MCP servers' envRefs and bearer token variables
// (included when set). Values never reach argv or logs; only key names are logged.
func (h *HookRunner) ensureCodexSecrets(ctx context.Context, label string, s stackfile.HookStep) error {
	name, err := h.with(label, s, "secretName")
	if err != nil {
		return err
	}
	if name == "" {
		name = DefaultCodexSecretName
	}
	keysArg, err := h.with(label, s, "keys")
	if err != nil {
		return err
	}
	required := DefaultCodexKeys
	var optional []string
	if keysArg != "" {
		required = splitList(strings.Trim(keysArg, "[]"))
	} else {
		for _, srv := range h.Loaded.Stack.Codex.MCP.Servers {
			for _, refs := range []map[string]stackfile.ValueRef{srv.Env, srv.Headers} {
				for _, r := range refs {
					if r.EnvRef != "" {
						optional = append(optional, r.EnvRef)
					}
				}
			}
			if srv.BearerTokenEnvVar != "" {
				optional = append(optional, srv.BearerTokenEnvVar)
			}
		}
	}
	env := h.Loaded.Context.EnvMap
	data := map[string]any{}
	var missing []string
	for _, k := range required {
		if v := env[k]; v != "" {
			data[k] = base64.StdEncoding.EncodeToString([]byte(v))
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("codex.ensure-codex-secrets: environment values not set: %s", strings.Join(missing, ", "))
	}
	for _, k := range optional {
		if v := env[k]; v != "" {
			data[k] = base64.StdEncoding.EncodeToString([]byte(v))
		} else {
			h.logf("%s: %s not set; left out", label, k)
		}
	}
	sec := &unstructured.Unstructured{Object: map[string]any{"type": "Opaque", "data": data}}
	sec.SetGroupVersionKind(secretGVK)
	sec.SetName(name)
	sec.SetNamespace(h.Loaded.Context.Namespace)
	sec.SetLabels(Labels(h.Loaded))
	if err := h.Cluster.applyObject(ctx, sec, defaultBackoff); err != nil {
		return fmt.Errorf("codex.ensure-codex-secrets: %w", err)
	}
	h.applied = append(h.applied, refOf(sec))
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h.logf("%s: Secret %s/%s has keys %s", label, sec.GetNamespace(), name, strings.Join(keys, ", "))
	return nil
}

// reuseTLSSecret copies with.secretName from with.stagingNamespace (default <project>-ai-staging)
// into the namespace, so a slot does not have its certificate issued again. A missing source is
// not an error (the certificate will be issued).
func (h *HookRunner) reuseTLSSecret(ctx context.Context, label string, s stackfile.HookStep) error {
	name, err := h.with(label, s, "secretName")
	if err != nil {
		return err
	}
	if name == "" {
		return errors.New("codex.reuse-dev-tls-secret: with.secretName is required")
	}
	from, err := h.with(label, s, "stagingNamespace")
	if err != nil {
		return err
	}
	if from == "" {
		from = h.Loaded.Stack.Project + "-ai-staging"
	}
	to := h.Loaded.Context.Namespace
	if from == to {
		return nil
	}
	src, err := h.Cluster.Kube.CoreV1().Secrets(from).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		h.logf("%s: no Secret %s/%s to reuse", label, from, name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("codex.reuse-dev-tls-secret: get %s/%s: %w", from, name, err)
	}
	data := map[string]any{}
	for k, v := range src.Data {
		data[k] = base64.StdEncoding.EncodeToString(v)
	}
	cp := &unstructured.Unstructured{Object: map[string]any{"type": string(src.Type), "data": data}}
	cp.SetGroupVersionKind(secretGVK)
	cp.SetName(name)
	cp.SetNamespace(to)
	cp.SetLabels(Labels(h.Loaded))
	ann := map[string]string{}
	for k, v := range src.Annotations {
		if strings.HasPrefix(k, "cert-manager.io/") {
			ann[k] = v
		}
	}
	if len(ann) > 0 {
		cp.SetAnnotations(ann)
	}
	if err := h.Cluster.applyObject(ctx, cp, defaultBackoff); err != nil {
		return fmt.Errorf("codex.reuse-dev-tls-secret: %w", err)
	}
	h.applied = append(h.applied, refOf(cp))
	h.logf("%s: copied Secret %s from %s to %s", label, name, from, to)
	return nil
}

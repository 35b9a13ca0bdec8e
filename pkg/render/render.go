package render

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentline/agentline/pkg/stackfile"
)

// Filters select items by name (case-insensitive). An empty Only list selects everything.
type Filters struct {
	// OnlyServices keeps only these services.
	OnlyServices []string
	// SkipServices drops these services.
	SkipServices []string
	// OnlyInfra keeps only these infrastructure items.
	OnlyInfra []string
	// SkipInfra drops these infrastructure items.
	SkipInfra []string
}

// Options configure Render.
type Options struct {
	Filters
	// Scope decides which kinds are namespaced; nil means BuiltinScope.
	Scope Scope
}

// ItemKind is "infrastructure" or "service".
type ItemKind string

// Item kinds.
const (
	KindInfra   ItemKind = "infrastructure"
	KindService ItemKind = "service"
)

// Item is one selected infrastructure item or service with its rendered objects.
type Item struct {
	// Kind is infrastructure or service.
	Kind ItemKind
	// Name of the item.
	Name string
	// Hooks of the item (only selected items' hooks ever run).
	Hooks stackfile.Hooks
	// Objects rendered for the item, in order.
	Objects []*unstructured.Unstructured
}

// Result is the rendered stack.
type Result struct {
	// Items are the items that passed the filters and `when`, infrastructure first, in file order.
	Items []Item
	// Namespace is the context namespace.
	Namespace string
	// Warnings are non-fatal findings (unknown filter names, images no `images` entry produces).
	Warnings []string
}

// Objects returns every rendered object in output order.
func (r *Result) Objects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, it := range r.Items {
		out = append(out, it.Objects...)
	}
	return out
}

// Select applies the filters and `when` to the stack's items without rendering manifests; it is
// what Render and the hook runner use to decide which items exist.
func Select(l *stackfile.Loaded, f Filters) ([]Item, []string, error) {
	var items []Item
	warnings := unknownFilterNames(l.Stack, f)
	for i, it := range l.Stack.Infrastructure {
		if !selected(it.Name, f.OnlyInfra, f.SkipInfra) {
			continue
		}
		ok, err := l.When(fmt.Sprintf("%s: infrastructure[%d].when", l.Path, i), it.When)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			items = append(items, Item{Kind: KindInfra, Name: it.Name, Hooks: it.Hooks})
		}
	}
	for i, s := range l.Stack.Services {
		if !selected(s.Name, f.OnlyServices, f.SkipServices) {
			continue
		}
		ok, err := l.When(fmt.Sprintf("%s: services[%d].when", l.Path, i), s.When)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			items = append(items, Item{Kind: KindService, Name: s.Name, Hooks: s.Hooks})
		}
	}
	return items, warnings, nil
}

func selected(name string, only, skip []string) bool {
	has := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), name) })
	}
	if len(only) > 0 && !has(only) {
		return false
	}
	return !has(skip)
}

func unknownFilterNames(st *stackfile.Stack, f Filters) []string {
	var out []string
	check := func(flag string, names []string, exists func(string) bool) {
		for _, n := range names {
			if strings.TrimSpace(n) != "" && !exists(strings.TrimSpace(n)) {
				out = append(out, fmt.Sprintf("%s: no item named %q", flag, n))
			}
		}
	}
	svc := func(n string) bool { _, ok := st.Service(n); return ok }
	inf := func(n string) bool { _, ok := st.Infra(n); return ok }
	check("--only-services", f.OnlyServices, svc)
	check("--skip-services", f.SkipServices, svc)
	check("--only-infra", f.OnlyInfra, inf)
	check("--skip-infra", f.SkipInfra, inf)
	return out
}

// Render renders the manifests of every selected item (spec section 4).
func Render(l *stackfile.Loaded, opts Options) (*Result, error) {
	scope := opts.Scope
	if scope == nil {
		scope = BuiltinScope{}
	}
	items, warnings, err := Select(l, opts.Filters)
	if err != nil {
		return nil, err
	}
	res := &Result{Namespace: l.Context.Namespace, Warnings: warnings}
	produced := producedRepositories(l.Stack)
	for _, it := range items {
		var refs []stackfile.ManifestRef
		var svc *stackfile.Service
		if it.Kind == KindInfra {
			inf, _ := l.Stack.Infra(it.Name)
			refs = inf.Manifests
		} else {
			svc, _ = l.Stack.Service(it.Name)
			refs = svc.Manifests
		}
		for _, ref := range refs {
			objs, err := renderManifest(l, ref.Path)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", it.Kind, it.Name, err)
			}
			it.Objects = append(it.Objects, objs...)
		}
		if svc != nil {
			objs, w, err := applyServiceRules(l, svc, it.Objects, scope, produced)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", it.Name, err)
			}
			it.Objects = objs
			res.Warnings = append(res.Warnings, w...)
		}
		res.Items = append(res.Items, it)
	}
	return res, nil
}

func renderManifest(l *stackfile.Loaded, path string) ([]*unstructured.Unstructured, error) {
	if strings.TrimSpace(path) == "" {
		return nil, fmt.Errorf("manifests: empty path")
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(l.Context.ProjectRoot, path)
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	text, err := l.RenderString(path, string(data))
	if err != nil {
		return nil, err
	}
	return DecodeManifests(path, []byte(text))
}

// applyServiceRules applies dropKinds, namespace injection, the image override and pvcMounts.
func applyServiceRules(l *stackfile.Loaded, svc *stackfile.Service, objs []*unstructured.Unstructured, scope Scope, produced map[string]bool) ([]*unstructured.Unstructured, []string, error) {
	overlay := svc.Overlays[l.Context.Env]
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if slices.ContainsFunc(overlay.DropKinds, func(k string) bool { return strings.EqualFold(strings.TrimSpace(k), o.GetKind()) }) {
			continue
		}
		if o.GetNamespace() == "" && scope.Namespaced(o.GroupVersionKind()) {
			o.SetNamespace(l.Context.Namespace)
		}
		out = append(out, o)
	}
	var warnings []string
	for _, o := range out {
		if o.GetKind() != "Deployment" || o.GetName() != svc.Name || !strings.HasPrefix(o.GetAPIVersion(), "apps/") {
			continue
		}
		if err := overrideImage(l, svc, o); err != nil {
			return nil, nil, err
		}
		if err := addPVCMounts(o, overlay.PVCMounts); err != nil {
			return nil, nil, err
		}
		if img := firstContainerImage(o); img != "" && !produced[imageRepository(img)] {
			warnings = append(warnings, fmt.Sprintf("service %s deploys image %s, which no `images` entry builds or mirrors", svc.Name, img))
		}
	}
	return out, warnings, nil
}

func podSpec(o *unstructured.Unstructured) (map[string]any, error) {
	spec, found, err := unstructured.NestedMap(o.Object, "spec", "template", "spec")
	if err != nil {
		return nil, fmt.Errorf("%s %s: spec.template.spec: %w", o.GetKind(), o.GetName(), err)
	}
	if !found {
		return nil, nil
	}
	return spec, nil
}

func containers(spec map[string]any, field string) ([]map[string]any, error) {
	raw, ok := spec[field]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("spec.template.spec.%s: want a list", field)
	}
	out := make([]map[string]any, 0, len(list))
	for i, c := range list {
		m, ok := c.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec.template.spec.%s[%d]: want a mapping", field, i)
		}
		out = append(out, m)
	}
	return out, nil
}

func setContainers(spec map[string]any, field string, cs []map[string]any) {
	if cs == nil {
		return
	}
	list := make([]any, len(cs))
	for i, c := range cs {
		list[i] = c
	}
	spec[field] = list
}

func overrideImage(l *stackfile.Loaded, svc *stackfile.Service, o *unstructured.Unstructured) error {
	repo := strings.TrimSpace(svc.Image.Repository)
	if repo == "" {
		return nil
	}
	tag, err := l.RenderString(fmt.Sprintf("services.%s.image.tagTemplate", svc.Name), svc.Image.TagTemplate)
	if err != nil {
		return err
	}
	image := repo
	if tag = strings.TrimSpace(tag); tag != "" {
		image = repo + ":" + tag
	}
	spec, err := podSpec(o)
	if err != nil || spec == nil {
		return err
	}
	main, err := containers(spec, "containers")
	if err != nil {
		return fmt.Errorf("Deployment %s: %w", o.GetName(), err)
	}
	if len(main) == 0 {
		return nil
	}
	old, _ := main[0]["image"].(string)
	main[0]["image"] = image
	inits, err := containers(spec, "initContainers")
	if err != nil {
		return fmt.Errorf("Deployment %s: %w", o.GetName(), err)
	}
	for _, c := range inits {
		if img, _ := c["image"].(string); img == "" || img == old {
			c["image"] = image
		}
	}
	setContainers(spec, "containers", main)
	setContainers(spec, "initContainers", inits)
	return unstructured.SetNestedMap(o.Object, spec, "spec", "template", "spec")
}

func addPVCMounts(o *unstructured.Unstructured, mounts []stackfile.PVCMount) error {
	if len(mounts) == 0 {
		return nil
	}
	spec, err := podSpec(o)
	if err != nil {
		return err
	}
	if spec == nil {
		spec = map[string]any{}
	}
	main, err := containers(spec, "containers")
	if err != nil {
		return fmt.Errorf("Deployment %s: %w", o.GetName(), err)
	}
	inits, err := containers(spec, "initContainers")
	if err != nil {
		return fmt.Errorf("Deployment %s: %w", o.GetName(), err)
	}
	volumes, _ := spec["volumes"].([]any)
	for _, m := range mounts {
		volumes = replaceNamed(volumes, m.Name, map[string]any{
			"name":                  m.Name,
			"persistentVolumeClaim": map[string]any{"claimName": m.ClaimName},
		})
		vm := map[string]any{"name": m.Name, "mountPath": m.MountPath}
		if m.SubPath != "" {
			vm["subPath"] = m.SubPath
		}
		if m.ReadOnly {
			vm["readOnly"] = true
		}
		targets := inits
		if len(main) > 0 {
			targets = append([]map[string]any{main[0]}, inits...)
		}
		for _, c := range targets {
			existing, _ := c["volumeMounts"].([]any)
			c["volumeMounts"] = replaceNamed(existing, m.Name, copyMap(vm))
		}
	}
	spec["volumes"] = volumes
	setContainers(spec, "containers", main)
	setContainers(spec, "initContainers", inits)
	return unstructured.SetNestedMap(o.Object, spec, "spec", "template", "spec")
}

// replaceNamed drops every entry named name and appends repl.
func replaceNamed(list []any, name string, repl map[string]any) []any {
	out := make([]any, 0, len(list)+1)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			continue
		}
		out = append(out, e)
	}
	return append(out, repl)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func firstContainerImage(o *unstructured.Unstructured) string {
	spec, err := podSpec(o)
	if err != nil || spec == nil {
		return ""
	}
	cs, err := containers(spec, "containers")
	if err != nil || len(cs) == 0 {
		return ""
	}
	img, _ := cs[0]["image"].(string)
	return img
}

// imageRepository strips the tag and digest from an image reference.
func imageRepository(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		ref = ref[:colon]
	}
	return ref
}

// producedRepositories returns the repositories the `images` entries build (repository) or
// mirror (local, or from when no local is set), without tags.
func producedRepositories(st *stackfile.Stack) map[string]bool {
	out := make(map[string]bool, len(st.Images))
	for _, img := range st.Images {
		var produced string
		switch img.Type {
		case stackfile.ImageTypeBuild:
			produced = img.Repository
		case stackfile.ImageTypeExternal:
			produced = img.Local
			if produced == "" {
				produced = img.From
			}
		}
		if produced != "" {
			out[imageRepository(produced)] = true
		}
	}
	return out
}

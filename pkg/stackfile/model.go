// Package stackfile reads a stack file in the services.yaml format (the codexctl format, see
// shared/spec/services-yaml.md): header pre-parse, variable maps, namespace resolution, the
// template functions, whole-file templating and the typed model.
package stackfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Stack is the whole services.yaml model (spec section 3).
type Stack struct {
	// Project names namespaces, PVCs and defaults.
	Project string `yaml:"project"`
	// EnvFiles are dotenv files, relative to the directory of services.yaml.
	EnvFiles []string `yaml:"envFiles"`
	// Versions is exposed to templates as .Versions (index .Versions "key").
	Versions map[string]string `yaml:"versions"`
	// BaseDomain maps an environment name to its domain; slot hosts are dev-<slot>.<baseDomain.ai>.
	BaseDomain map[string]string `yaml:"baseDomain"`
	// Namespace holds the per-environment namespace templates.
	Namespace NamespaceConfig `yaml:"namespace"`
	// MaxSlots is the slot pool size for the `ai` environment (0 = unset).
	MaxSlots int `yaml:"maxSlots"`
	// Registry is the default registry host.
	Registry string `yaml:"registry"`
	// State describes the old tool's ConfigMap slot store (adopted, not used for leasing).
	State State `yaml:"state"`
	// Storage describes the shared volumes; exposed to templates as .Storage.
	Storage Storage `yaml:"storage"`
	// Environments holds per-environment settings, with `from` inheritance.
	Environments map[string]Environment `yaml:"environments"`
	// Images lists the images to build or mirror, by name.
	Images map[string]Image `yaml:"images"`
	// Infrastructure items, applied in file order before services.
	Infrastructure []InfraItem `yaml:"infrastructure"`
	// Services, applied in file order after infrastructure.
	Services []Service `yaml:"services"`
	// Hooks run before and after everything.
	Hooks GlobalHooks `yaml:"hooks"`
	// Codex holds the agent settings (spec section 5); exposed to templates as .Codex.
	Codex Codex `yaml:"codex"`
}

// NamespaceConfig is the `namespace` block.
type NamespaceConfig struct {
	// Patterns maps an environment name to a namespace template.
	Patterns map[string]string `yaml:"patterns"`
}

// State is the `state` block: where the old tool kept one ConfigMap per slot.
type State struct {
	// Backend is the store kind; only "configmap" is known.
	Backend string `yaml:"backend"`
	// ConfigmapNamespace is the namespace of the slot ConfigMaps.
	ConfigmapNamespace string `yaml:"configmapNamespace"`
	// ConfigmapPrefix prefixes the slot number in the ConfigMap name (<prefix><N>).
	ConfigmapPrefix string `yaml:"configmapPrefix"`
}

// Storage is the `storage` block; templates see it as .Storage (e.g. .Storage.Workspace.Size).
type Storage struct {
	// Workspace is the agent workspace volume (source code of every slot).
	Workspace StorageVolume `yaml:"workspace"`
	// Data is the data volume.
	Data StorageVolume `yaml:"data"`
	// Registry is the in-cluster registry volume.
	Registry StorageVolume `yaml:"registry"`
}

// StorageVolume describes one PersistentVolumeClaim.
type StorageVolume struct {
	// Size is a Kubernetes quantity such as "5Gi".
	Size string `yaml:"size"`
	// StorageClass is the storage class name; empty means the cluster default.
	StorageClass string `yaml:"storageClass"`
	// AccessModes such as ReadWriteMany.
	AccessModes []string `yaml:"accessModes"`
}

// Environment is one entry of `environments`.
type Environment struct {
	// From names the environment this one inherits from; the fields below override it.
	From string `yaml:"from"`
	// ImagePullPolicy is Always or IfNotPresent.
	ImagePullPolicy string `yaml:"imagePullPolicy"`
	// SlotBootstrapInfra lists infrastructure items applied right after a new slot is leased.
	SlotBootstrapInfra []string `yaml:"slotBootstrapInfra"`
}

// Image types.
const (
	ImageTypeExternal = "external"
	ImageTypeBuild    = "build"
)

// Image is one entry of `images`.
type Image struct {
	// Type is "external" (mirror From to Local) or "build".
	Type string `yaml:"type"`
	// From is where an external image is copied from.
	From string `yaml:"from"`
	// Local is where an external image is copied to.
	Local string `yaml:"local"`
	// Repository is the repository (without tag) a build image is pushed to.
	Repository string `yaml:"repository"`
	// Tag is a fixed tag.
	Tag string `yaml:"tag"`
	// TagTemplate is a tag template (alternative to Tag).
	TagTemplate string `yaml:"tagTemplate"`
	// Dockerfile is relative to the project root; default "Dockerfile".
	Dockerfile string `yaml:"dockerfile"`
	// Context is the build context relative to the project root; default ".".
	Context string `yaml:"context"`
	// BuildArgs are templated build arguments.
	BuildArgs map[string]string `yaml:"buildArgs"`
	// BuildContexts are named extra contexts (kaniko --build-context NAME=dir://ABS).
	BuildContexts map[string]string `yaml:"buildContexts"`
}

// ManifestRef points at one manifest file, relative to the project root.
type ManifestRef struct {
	// Path of the manifest file (itself a template).
	Path string `yaml:"path"`
}

// InfraItem is one entry of `infrastructure`.
type InfraItem struct {
	// Name identifies the item for filters and hooks.
	Name string `yaml:"name"`
	// When is a template; empty means true, false/0/no mean false.
	When string `yaml:"when"`
	// Manifests are emitted as they are (no namespace injection).
	Manifests []ManifestRef `yaml:"manifests"`
	// Hooks run around applying/destroying this item.
	Hooks Hooks `yaml:"hooks"`
}

// Service is one entry of `services`.
type Service struct {
	// Name identifies the service; the Deployment with this name gets the image override.
	Name string `yaml:"name"`
	// When is a template; empty means true, false/0/no mean false.
	When string `yaml:"when"`
	// Manifests of the service.
	Manifests []ManifestRef `yaml:"manifests"`
	// Image overrides the first container's image of the service's Deployment.
	Image ServiceImage `yaml:"image"`
	// Overlays maps an environment name to per-environment changes.
	Overlays map[string]Overlay `yaml:"overlays"`
	// Hooks run around applying/destroying this service.
	Hooks Hooks `yaml:"hooks"`
}

// ServiceImage is a service's `image` block.
type ServiceImage struct {
	// Repository without tag.
	Repository string `yaml:"repository"`
	// TagTemplate renders the tag; an empty result means no tag.
	TagTemplate string `yaml:"tagTemplate"`
}

// Overlay is a service's per-environment change set.
type Overlay struct {
	// PVCMounts add PVC volumes and mounts to the service's Deployment.
	PVCMounts []PVCMount `yaml:"pvcMounts"`
	// DropKinds removes documents of these kinds.
	DropKinds []string `yaml:"dropKinds"`
}

// PVCMount mounts a PersistentVolumeClaim into the first container and every init container.
type PVCMount struct {
	// Name of the volume (replaces a volume and mounts of the same name).
	Name string `yaml:"name"`
	// ClaimName of the PersistentVolumeClaim.
	ClaimName string `yaml:"claimName"`
	// MountPath inside the containers.
	MountPath string `yaml:"mountPath"`
	// SubPath inside the volume.
	SubPath string `yaml:"subPath"`
	// ReadOnly mounts the volume read-only.
	ReadOnly bool `yaml:"readOnly"`
}

// Hooks are an item's hooks.
type Hooks struct {
	// BeforeApply runs before the item's objects are applied.
	BeforeApply []HookStep `yaml:"beforeApply"`
	// AfterApply runs after the item's objects are applied.
	AfterApply []HookStep `yaml:"afterApply"`
	// BeforeDestroy runs before the item's objects are deleted.
	BeforeDestroy []HookStep `yaml:"beforeDestroy"`
	// AfterDestroy runs after the item's objects are deleted.
	AfterDestroy []HookStep `yaml:"afterDestroy"`
}

// GlobalHooks is the top-level `hooks` block.
type GlobalHooks struct {
	// BeforeAll runs before anything is applied or destroyed.
	BeforeAll []HookStep `yaml:"beforeAll"`
	// AfterAll runs after everything is applied or destroyed.
	AfterAll []HookStep `yaml:"afterAll"`
}

// Builtin hook names (HookStep.Use).
const (
	BuiltinKubectlWait          = "kubectl.wait"
	BuiltinGitHubComment        = "github.comment"
	BuiltinSleep                = "sleep"
	BuiltinPreflight            = "preflight"
	BuiltinEnsureCodexSecrets   = "codex.ensure-codex-secrets"
	BuiltinReuseDevTLSSecret    = "codex.reuse-dev-tls-secret"
	defaultKubectlWaitCondition = "Available"
)

// Builtins lists every known builtin hook name.
var Builtins = []string{
	BuiltinKubectlWait, BuiltinGitHubComment, BuiltinSleep, BuiltinPreflight,
	BuiltinEnsureCodexSecrets, BuiltinReuseDevTLSSecret,
}

// HookStep is one hook step: either a bash script (Run) or a builtin (Use + With).
type HookStep struct {
	// Name of the step, for logs.
	Name string `yaml:"name"`
	// Run is a bash script template.
	Run string `yaml:"run"`
	// Use names a builtin (see Builtins).
	Use string `yaml:"use"`
	// With holds the builtin's arguments; string values are templates.
	With map[string]any `yaml:"with"`
	// When is a template; empty means true, false/0/no mean false.
	When string `yaml:"when"`
	// ContinueOnError turns a failure of this step into a warning.
	ContinueOnError bool `yaml:"continueOnError"`
	// Timeout bounds the step (0 = no own timeout).
	Timeout Duration `yaml:"timeout"`
}

// WithString returns With[key] as a string ("" when absent).
func (h HookStep) WithString(key string) string {
	v, ok := h.With[key]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// Codex is the agent settings block (spec section 5).
type Codex struct {
	// Model is the agent model name.
	Model string `yaml:"model"`
	// ModelReasoningEffort is low, medium, high or xhigh.
	ModelReasoningEffort string `yaml:"modelReasoningEffort"`
	// PromptLang is en or ru.
	PromptLang string `yaml:"promptLang"`
	// ConfigTemplate replaces the built-in agent config template (path).
	ConfigTemplate string `yaml:"configTemplate"`
	// ConfigBlocks are extra TOML blocks, templated and appended.
	ConfigBlocks []ConfigBlock `yaml:"configBlocks"`
	// Links are shown in the environment comment as https://<host><path>.
	Links []Link `yaml:"links"`
	// ExtraTools are listed in prompts.
	ExtraTools []string `yaml:"extraTools"`
	// ProjectContext is free text for prompts.
	ProjectContext string `yaml:"projectContext"`
	// ServicesOverview is free text for prompts.
	ServicesOverview string `yaml:"servicesOverview"`
	// Timeouts of the agent run.
	Timeouts Timeouts `yaml:"timeouts"`
	// ReviewMCPEnabled makes review prompts use the review MCP tools instead of gh.
	ReviewMCPEnabled bool `yaml:"reviewMCPEnabled"`
	// MCP lists the MCP servers.
	MCP MCP `yaml:"mcp"`
}

// ConfigBlock is extra agent config TOML, inline (TOML) or from a file (File).
type ConfigBlock struct {
	// Name of the block.
	Name string `yaml:"name"`
	// TOML is inline TOML (templated).
	TOML string `yaml:"toml"`
	// File is a path to a TOML file (templated), relative to the project root.
	File string `yaml:"file"`
}

// Link is a link shown in the environment comment.
type Link struct {
	// Title of the link.
	Title string `yaml:"title"`
	// Path appended to https://<host>.
	Path string `yaml:"path"`
}

// Timeouts are the agent timeouts.
type Timeouts struct {
	// Exec bounds one agent run.
	Exec Duration `yaml:"exec"`
	// Rollout bounds a rollout.
	Rollout Duration `yaml:"rollout"`
	// DeployWait bounds the readiness wait after apply.
	DeployWait Duration `yaml:"deployWait"`
}

// MCP is the `codex.mcp` block.
type MCP struct {
	// Servers are the MCP servers, names unique.
	Servers []MCPServer `yaml:"servers"`
}

// MCP server types.
const (
	MCPTypeStdio   = "stdio"
	MCPTypeHTTP    = "http"
	MCPTypeHTTPS   = "https"
	MCPTypeCluster = "cluster"
)

// MCPServer is one MCP server.
type MCPServer struct {
	// Name is unique among servers.
	Name string `yaml:"name"`
	// Type is stdio, http, https or cluster.
	Type string `yaml:"type"`
	// Description for prompts.
	Description string `yaml:"description"`
	// ToolTimeoutSec bounds one tool call.
	ToolTimeoutSec int `yaml:"tool_timeout_sec"`
	// StartupTimeoutSec bounds the server start.
	StartupTimeoutSec int `yaml:"startup_timeout_sec"`
	// Command starts a stdio server.
	Command string `yaml:"command"`
	// Args of Command.
	Args []string `yaml:"args"`
	// Env of a stdio server.
	Env map[string]ValueRef `yaml:"env"`
	// Endpoint URL of an http/https server.
	Endpoint string `yaml:"endpoint"`
	// Headers sent to an http/https server.
	Headers map[string]ValueRef `yaml:"headers"`
	// BearerTokenEnvVar names the env variable holding the bearer token.
	BearerTokenEnvVar string `yaml:"bearer_token_env_var"`
	// Service locates a cluster server.
	Service *MCPService `yaml:"service"`
	// Tools are only listed in prompts.
	Tools []MCPTool `yaml:"tools"`
}

// URL returns the server's URL: Endpoint for http/https, the in-cluster service URL for cluster
// servers (http://name.ns.svc.cluster.local:port/path, defaults port 80, path /mcp, scheme http),
// "" for stdio.
func (s MCPServer) URL() string {
	switch s.Type {
	case MCPTypeCluster:
		if s.Service == nil {
			return ""
		}
		return s.Service.URL()
	case MCPTypeHTTP, MCPTypeHTTPS:
		return s.Endpoint
	}
	return ""
}

// MCPService locates an MCP server inside the cluster.
type MCPService struct {
	// Name of the Service.
	Name string `yaml:"name"`
	// Namespace of the Service.
	Namespace string `yaml:"namespace"`
	// Port, default 80.
	Port int `yaml:"port"`
	// Path, default /mcp.
	Path string `yaml:"path"`
	// Scheme, default http.
	Scheme string `yaml:"scheme"`
}

// URL returns scheme://name.namespace.svc.cluster.local:port/path with the defaults applied.
func (s MCPService) URL() string {
	port, path, scheme := s.Port, s.Path, s.Scheme
	if port == 0 {
		port = 80
	}
	if path == "" {
		path = "/mcp"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if scheme == "" {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s.%s.svc.cluster.local:%d%s", scheme, s.Name, s.Namespace, port, path)
}

// MCPTool is a tool listed in prompts.
type MCPTool struct {
	// Name of the tool.
	Name string `yaml:"name"`
	// Description of the tool.
	Description string `yaml:"description"`
}

// ValueRef is exactly one of {value}, {envRef}, {varRef}, optionally `optional: true`.
type ValueRef struct {
	// Value is a literal value (nil when not given).
	Value *string `yaml:"value"`
	// EnvRef names an EnvMap entry.
	EnvRef string `yaml:"envRef"`
	// VarRef names a Vars entry.
	VarRef string `yaml:"varRef"`
	// Optional: a missing reference leaves the key out instead of failing.
	Optional bool `yaml:"optional"`
}

// Validate checks that exactly one source is set.
func (v ValueRef) Validate() error {
	n := 0
	if v.Value != nil {
		n++
	}
	if v.EnvRef != "" {
		n++
	}
	if v.VarRef != "" {
		n++
	}
	if n != 1 {
		return fmt.Errorf("exactly one of value, envRef, varRef must be set (got %d)", n)
	}
	return nil
}

// Resolve returns the referenced value. ok is false when an optional reference is missing (the key
// must then be left out); a missing non-optional reference is an error naming key.
// envMap and vars are usually Context.EnvMap and Context.Vars.
func (v ValueRef) Resolve(key string, envMap, vars map[string]string) (val string, ok bool, err error) {
	if err := v.Validate(); err != nil {
		return "", false, fmt.Errorf("%s: %w", key, err)
	}
	var src, name string
	var m map[string]string
	switch {
	case v.Value != nil:
		return *v.Value, true, nil
	case v.EnvRef != "":
		src, name, m = "envRef", v.EnvRef, envMap
	default:
		src, name, m = "varRef", v.VarRef, vars
	}
	if s, found := m[name]; found && s != "" {
		return s, true, nil
	}
	if v.Optional {
		return "", false, nil
	}
	return "", false, fmt.Errorf("%s: %s %q is not set (mark it optional: true if the key may be left out)", key, src, name)
}

// Duration is a time.Duration read from YAML as a Go duration string ("300s", "45m") or an
// integer number of seconds.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts "300s", "1h30m", 300 (seconds) and "" (zero).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	parsed, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(parsed)
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration parses a Go duration string or a plain integer number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("invalid duration %q: negative", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 300s, 10m or a number of seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return d, nil
}

// ImageNames returns the names of Images, sorted.
func (s *Stack) ImageNames() []string {
	names := make([]string, 0, len(s.Images))
	for n := range s.Images {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ResolveEnvironment returns the settings of env with `from` inheritance applied (a field set in
// the child overrides the parent's). An unknown env yields the zero Environment; an unknown `from`
// or a cycle is an error.
func (s *Stack) ResolveEnvironment(env string) (Environment, error) {
	seen := map[string]bool{}
	var chain []Environment
	name := env
	for name != "" {
		if seen[name] {
			return Environment{}, fmt.Errorf("environments.%s: inheritance cycle through %q", env, name)
		}
		seen[name] = true
		e, ok := s.Environments[name]
		if !ok {
			if name == env {
				return Environment{}, nil
			}
			return Environment{}, fmt.Errorf("environments.%s.from: unknown environment %q", env, name)
		}
		chain = append(chain, e)
		name = e.From
	}
	var out Environment
	for i := len(chain) - 1; i >= 0; i-- {
		e := chain[i]
		if e.ImagePullPolicy != "" {
			out.ImagePullPolicy = e.ImagePullPolicy
		}
		if e.SlotBootstrapInfra != nil {
			out.SlotBootstrapInfra = e.SlotBootstrapInfra
		}
	}
	out.From = s.Environments[env].From
	return out, nil
}

// Service returns the service named name (case-insensitive).
func (s *Stack) Service(name string) (*Service, bool) {
	for i := range s.Services {
		if strings.EqualFold(s.Services[i].Name, name) {
			return &s.Services[i], true
		}
	}
	return nil, false
}

// Infra returns the infrastructure item named name (case-insensitive).
func (s *Stack) Infra(name string) (*InfraItem, bool) {
	for i := range s.Infrastructure {
		if strings.EqualFold(s.Infrastructure[i].Name, name) {
			return &s.Infrastructure[i], true
		}
	}
	return nil, false
}

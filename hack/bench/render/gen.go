// Package renderbench generates stacks in the services.yaml format of any size (same shape as
// the shopfront example) and benchmarks `render template` on them as a whole process.
package renderbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const header = `# {{- $registry := envOr "REGISTRY_HOST" (printf "registry.%s.svc.cluster.local:5000" .Namespace) -}}
# {{- $stage := ternary (eq .Env "ai") "ai-staging" .Env -}}

project: bench
maxSlots: 4
registry: '{{ $registry }}'
namespace:
  patterns:
    ai: "{{ .Project }}-dev-{{ .Slot }}"
baseDomain:
  dev: dev.bench.invalid
  ai: ai.bench.invalid
versions:
  base: "1.0.0"
infrastructure:
  - name: namespace
    manifests:
      - path: deploy/namespace.yaml
  - name: config
    when: '{{ ne .Env "ai-repair" }}'
    manifests:
      - path: deploy/config.yaml
images:
`

const namespaceYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: {{ .Namespace }}
  labels: {app.kubernetes.io/part-of: {{ .Project }}}
`

const configYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: bench-config
  namespace: {{ .Namespace }}
data:
  HOST: {{ if eq .Env "ai" }}dev-{{ .Slot }}.{{ index .BaseDomain "ai" }}{{ else }}{{ index .BaseDomain .Env }}{{ end }}
---
apiVersion: v1
kind: Secret
metadata:
  name: bench-secrets
  namespace: {{ .Namespace }}
stringData:
  PASSWORD: {{ envOr "PASSWORD" "change-me" | printf "%q" }}
`

// serviceYAML is one service's manifests: a Deployment with an init container, a Service and
// an Ingress (dropped for slots).
const serviceYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      initContainers:
        - name: migrate
          image: placeholder
          args: ["migrate", "up"]
      containers:
        - name: %[1]s
          image: placeholder
          env:
            - {name: SLOT, value: "{{ .Slot }}"}
            - {name: VERSION, value: "{{ index .Versions "base" }}"}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: tmp
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %[1]s
spec:
  rules:
    - host: %[1]s.{{ index .BaseDomain .Env }}
`

// Generate writes a stack with n services into dir and returns the path of its services.yaml.
// Each service has an `images` entry, an image override, an `ai` overlay with a PVC mount and a
// dropped Ingress, and three manifests.
func Generate(dir string, n int) (string, error) {
	var b strings.Builder
	b.WriteString(header)
	for i := range n {
		fmt.Fprintf(&b, "  svc%[1]d:\n    type: build\n    repository: '{{ $registry }}/bench/svc%[1]d'\n    tagTemplate: '{{ printf \"%%s-%%s\" $stage (index .Versions \"base\") }}'\n", i)
	}
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: svc%[1]d
    manifests:
      - path: services/svc%[1]d.yaml
    image:
      repository: '{{ $registry }}/bench/svc%[1]d'
      tagTemplate: '{{ printf "%%s-%%s" $stage (index .Versions "base") }}'
    overlays:
      ai:
        dropKinds: [Ingress]
        pvcMounts:
          - name: workspace
            claimName: bench-workspace
            mountPath: /workspace
            subPath: '{{ printf "envs/%%d/src/svc%[1]d" .Slot }}'
`, i)
	}
	files := map[string]string{
		"services.yaml":         b.String(),
		"deploy/namespace.yaml": namespaceYAML,
		"deploy/config.yaml":    configYAML,
	}
	for i := range n {
		name := fmt.Sprintf("svc%d", i)
		files[filepath.Join("services", name+".yaml")] = fmt.Sprintf(serviceYAML, name)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("generate: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("generate: %w", err)
		}
	}
	return filepath.Join(dir, "services.yaml"), nil
}

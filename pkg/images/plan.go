// Package images plans, mirrors and builds the images a services.yaml stack declares: external
// images are copied into the cluster registry with go-containerregistry, build images are built
// by the kaniko executor.
package images

import (
	"fmt"
	"sort"
	"strings"
)

// Plan is the rendered `images` section for one env/slot/namespace.
type Plan struct {
	// Project is the stack's project name.
	Project string `json:"project"`
	// Registry is the stack's rendered `registry` (the in-cluster registry host).
	Registry string `json:"registry,omitempty"`
	// Mirrors are the external images, sorted by name.
	Mirrors []Mirror `json:"mirrors"`
	// Builds are the build images, sorted by name.
	Builds []Build `json:"builds"`
}

// Mirror copies From to To.
type Mirror struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Build builds Dockerfile in Context and pushes Destination.
type Build struct {
	Name string `json:"name"`
	// Destination is repository:tag (repository alone when the tag renders empty).
	Destination string `json:"destination"`
	// Dockerfile and Context are absolute paths.
	Dockerfile string `json:"dockerfile"`
	Context    string `json:"context"`
	// BuildArgs are sorted by name.
	BuildArgs []BuildArg `json:"buildArgs,omitempty"`
	// BuildContexts are named extra contexts (absolute dirs), sorted by name.
	BuildContexts []BuildContext `json:"buildContexts,omitempty"`
}

// BuildArg is one --build-arg.
type BuildArg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BuildContext is one --build-context NAME=dir://PATH.
type BuildContext struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Names returns every image name of the plan (mirrors, then builds).
func (p *Plan) Names() []string {
	var out []string
	for _, m := range p.Mirrors {
		out = append(out, m.Name)
	}
	for _, b := range p.Builds {
		out = append(out, b.Name)
	}
	return out
}

// Only returns the plan restricted to the named images (case-insensitive). An empty list keeps
// everything; a name that matches no image is an error.
func (p *Plan) Only(names []string) (*Plan, error) {
	if len(names) == 0 {
		return p, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			want[strings.ToLower(n)] = true
		}
	}
	out := &Plan{Project: p.Project, Registry: p.Registry, Mirrors: []Mirror{}, Builds: []Build{}}
	found := map[string]bool{}
	for _, m := range p.Mirrors {
		if want[strings.ToLower(m.Name)] {
			out.Mirrors = append(out.Mirrors, m)
			found[strings.ToLower(m.Name)] = true
		}
	}
	for _, b := range p.Builds {
		if want[strings.ToLower(b.Name)] {
			out.Builds = append(out.Builds, b)
			found[strings.ToLower(b.Name)] = true
		}
	}
	var missing []string
	for n := range want {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("--only: no image named %s (images: %s)",
			strings.Join(missing, ", "), strings.Join(p.Names(), ", "))
	}
	return out, nil
}

// IsSecretName reports whether a build-arg name looks secret (*TOKEN*, *KEY*, *PASSWORD*,
// *SECRET*, any case). Such values never appear in logs, printed plans or the executor's argv.
func IsSecretName(name string) bool {
	u := strings.ToUpper(name)
	for _, s := range []string{"TOKEN", "KEY", "PASSWORD", "SECRET"} {
		if strings.Contains(u, s) {
			return true
		}
	}
	return false
}

// Masked returns a copy of the plan whose secret-looking build-arg values are replaced by "***",
// for printing.
func (p *Plan) Masked() *Plan {
	out := *p
	out.Builds = make([]Build, len(p.Builds))
	for i, b := range p.Builds {
		b.BuildArgs = append([]BuildArg(nil), b.BuildArgs...)
		for j := range b.BuildArgs {
			if IsSecretName(b.BuildArgs[j].Name) {
				b.BuildArgs[j].Value = mask
			}
		}
		out.Builds[i] = b
	}
	return &out
}

const mask = "***"

package images

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agentline/agentline/pkg/stackfile"
)

// LoadPlan loads the stack file at path for the env/slot/namespace in opts and returns its plan.
func LoadPlan(path string, opts stackfile.LoadOptions) (*Plan, *stackfile.Loaded, error) {
	l, err := stackfile.Load(path, opts)
	if err != nil {
		return nil, nil, err
	}
	p, err := PlanFromStack(l)
	if err != nil {
		return nil, l, err
	}
	return p, l, nil
}

// PlanFromStack returns the mirrors and builds of a loaded stack, every field rendered, sorted by
// image name. Dockerfile, context and build-context paths are resolved against the project root.
func PlanFromStack(l *stackfile.Loaded) (*Plan, error) {
	st := l.Stack
	root := l.Context.ProjectRoot
	if root == "" {
		root = filepath.Dir(l.Path)
	}
	p := &Plan{Project: st.Project, Registry: strings.TrimSpace(st.Registry), Mirrors: []Mirror{}, Builds: []Build{}}
	field := func(name, f string) string { return fmt.Sprintf("%s: images.%s.%s", l.Path, name, f) }
	var errs []string
	for _, name := range st.ImageNames() {
		img := st.Images[name]
		switch img.Type {
		case stackfile.ImageTypeExternal:
			m := Mirror{Name: name, From: strings.TrimSpace(img.From), To: strings.TrimSpace(img.Local)}
			if m.From == "" {
				errs = append(errs, field(name, "from")+": required for type external")
			}
			if m.To == "" {
				errs = append(errs, field(name, "local")+": required for type external")
			}
			p.Mirrors = append(p.Mirrors, m)
		case stackfile.ImageTypeBuild:
			b, err := planBuild(l, root, name, img, field)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			p.Builds = append(p.Builds, b)
		default:
			errs = append(errs, fmt.Sprintf("%s: %q is not external or build", field(name, "type"), img.Type))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("images plan:\n  %s", strings.Join(errs, "\n  "))
	}
	return p, nil
}

func planBuild(l *stackfile.Loaded, root, name string, img stackfile.Image, field func(string, string) string) (Build, error) {
	repo := strings.TrimSpace(img.Repository)
	if repo == "" {
		return Build{}, fmt.Errorf("%s: required for type build", field(name, "repository"))
	}
	tag := strings.TrimSpace(img.Tag)
	if strings.TrimSpace(img.TagTemplate) != "" {
		if tag != "" {
			return Build{}, fmt.Errorf("%s: set tag or tagTemplate, not both", field(name, "tagTemplate"))
		}
		t, err := l.RenderString(field(name, "tagTemplate"), img.TagTemplate)
		if err != nil {
			return Build{}, err
		}
		tag = strings.TrimSpace(t)
	}
	b := Build{
		Name:        name,
		Destination: repo,
		Dockerfile:  resolve(root, img.Dockerfile, "Dockerfile"),
		Context:     resolve(root, img.Context, "."),
	}
	if tag != "" {
		b.Destination = repo + ":" + tag
	}
	for _, k := range sortedKeys(img.BuildArgs) {
		v, err := l.RenderString(field(name, "buildArgs."+k), img.BuildArgs[k])
		if err != nil {
			return Build{}, err
		}
		b.BuildArgs = append(b.BuildArgs, BuildArg{Name: k, Value: v})
	}
	for _, k := range sortedKeys(img.BuildContexts) {
		if strings.TrimSpace(img.BuildContexts[k]) == "" {
			return Build{}, fmt.Errorf("%s: empty path", field(name, "buildContexts."+k))
		}
		b.BuildContexts = append(b.BuildContexts, BuildContext{Name: k, Path: resolve(root, img.BuildContexts[k], ".")})
	}
	return b, nil
}

// resolve returns p (default def) as an absolute, cleaned path under root unless p is absolute.
func resolve(root, p, def string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		p = def
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(root, p)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

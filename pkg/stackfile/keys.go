package stackfile

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineIndex maps a line number to the key paths that start on it (in column order).
type lineIndex struct {
	byLine map[int][]lineKey
	lines  []int // sorted
}

type lineKey struct {
	col int
	key string
}

// keyLines indexes the key paths of a YAML document by line.
func keyLines(doc *yaml.Node) lineIndex {
	idx := lineIndex{byLine: map[int][]lineKey{}}
	add := func(n *yaml.Node, p string) { idx.byLine[n.Line] = append(idx.byLine[n.Line], lineKey{n.Column, p}) }
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinKey(path, k.Value)
				add(k, p)
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Kind == yaml.ScalarNode {
					add(c, p)
				}
				walk(c, p)
			}
		}
	}
	walk(doc, "")
	for l, keys := range idx.byLine {
		slices.SortStableFunc(keys, func(a, b lineKey) int { return a.col - b.col })
		idx.lines = append(idx.lines, l)
	}
	slices.Sort(idx.lines)
	return idx
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyAt returns the key at line and column (col 0 = unknown: the last key on the line), else the
// last key of the closest line before it.
func (x lineIndex) keyAt(line, col int) string {
	if keys := x.byLine[line]; len(keys) > 0 {
		best := keys[len(keys)-1].key
		if col > 0 {
			best = keys[0].key
			for _, k := range keys {
				if k.col <= col {
					best = k.key
				}
			}
		}
		return best
	}
	i, _ := slices.BinarySearch(x.lines, line)
	if i == 0 {
		return ""
	}
	keys := x.byLine[x.lines[i-1]]
	return keys[len(keys)-1].key
}

// find returns the line of a key path (0 when absent).
func (x lineIndex) find(key string) int {
	for _, l := range x.lines {
		for _, k := range x.byLine[l] {
			if k.key == key {
				return l
			}
		}
	}
	return 0
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	stackType       = reflect.TypeFor[Stack]()
)

// unknownKeys reports every mapping key of doc that no field of Stack (recursively) declares.
func unknownKeys(file string, doc *yaml.Node) []Warning {
	var out []Warning
	var walk func(n *yaml.Node, t reflect.Type, path string)
	walk = func(n *yaml.Node, t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if n.Kind == yaml.DocumentNode {
			for _, c := range n.Content {
				walk(c, t, path)
			}
			return
		}
		if n.Kind == yaml.AliasNode || reflect.PointerTo(t).Implements(unmarshalerType) {
			return
		}
		switch t.Kind() {
		case reflect.Struct:
			if n.Kind != yaml.MappingNode {
				return
			}
			fields := yamlFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinKey(path, k.Value)
				ft, ok := fields[k.Value]
				if !ok {
					if k.Value == "<<" {
						continue
					}
					msg := "unknown key (ignored)"
					if s := suggest(k.Value, fields); s != "" {
						msg = fmt.Sprintf("unknown key (ignored); did you mean %q?", s)
					}
					out = append(out, Warning{File: file, Line: k.Line, Key: p, Message: msg})
					continue
				}
				walk(v, ft, p)
			}
		case reflect.Map:
			if n.Kind != yaml.MappingNode {
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value))
			}
		case reflect.Slice:
			if n.Kind != yaml.SequenceNode {
				return
			}
			for i, c := range n.Content {
				walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(doc, stackType, "")
	return out
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// suggest returns a declared key equal to k ignoring case, dashes and underscores.
func suggest(k string, fields map[string]reflect.Type) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	}
	for name := range fields {
		if norm(name) == norm(k) {
			return name
		}
	}
	return ""
}

// validate checks the rules the YAML types cannot express.
func validate(st *Stack) error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	for name, img := range st.Images {
		switch img.Type {
		case ImageTypeExternal:
			if img.From == "" {
				add("images.%s.from: required for type external", name)
			}
		case ImageTypeBuild:
			if img.Repository == "" {
				add("images.%s.repository: required for type build", name)
			}
		default:
			add("images.%s.type: %q is not external or build", name, img.Type)
		}
	}
	checkSteps := func(path string, steps []HookStep) {
		for i, s := range steps {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case s.Run != "" && s.Use != "":
				add("%s: set either run or use, not both", p)
			case s.Run == "" && s.Use == "":
				add("%s: set run or use", p)
			case s.Use != "" && !slices.Contains(Builtins, s.Use):
				add("%s.use: unknown builtin %q (known: %s)", p, s.Use, strings.Join(Builtins, ", "))
			}
		}
	}
	checkHooks := func(path string, h Hooks) {
		checkSteps(path+".beforeApply", h.BeforeApply)
		checkSteps(path+".afterApply", h.AfterApply)
		checkSteps(path+".beforeDestroy", h.BeforeDestroy)
		checkSteps(path+".afterDestroy", h.AfterDestroy)
	}
	checkSteps("hooks.beforeAll", st.Hooks.BeforeAll)
	checkSteps("hooks.afterAll", st.Hooks.AfterAll)
	seen := map[string]bool{}
	for i, it := range st.Infrastructure {
		p := fmt.Sprintf("infrastructure[%d]", i)
		if it.Name == "" {
			add("%s.name: required", p)
		} else if seen["i:"+strings.ToLower(it.Name)] {
			add("%s.name: duplicate %q", p, it.Name)
		}
		seen["i:"+strings.ToLower(it.Name)] = true
		checkHooks(p+".hooks", it.Hooks)
	}
	for i, s := range st.Services {
		p := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			add("%s.name: required", p)
		} else if seen["s:"+strings.ToLower(s.Name)] {
			add("%s.name: duplicate %q", p, s.Name)
		}
		seen["s:"+strings.ToLower(s.Name)] = true
		checkHooks(p+".hooks", s.Hooks)
		for env, ov := range s.Overlays {
			for j, m := range ov.PVCMounts {
				if m.Name == "" || m.ClaimName == "" || m.MountPath == "" {
					add("%s.overlays.%s.pvcMounts[%d]: name, claimName and mountPath are required", p, env, j)
				}
			}
		}
	}
	names := map[string]bool{}
	for i, srv := range st.Codex.MCP.Servers {
		p := fmt.Sprintf("codex.mcp.servers[%d]", i)
		if srv.Name == "" {
			add("%s.name: required", p)
		} else if names[srv.Name] {
			add("%s.name: duplicate %q", p, srv.Name)
		}
		names[srv.Name] = true
		switch srv.Type {
		case MCPTypeStdio:
			if srv.Command == "" {
				add("%s.command: required for type stdio", p)
			}
		case MCPTypeHTTP, MCPTypeHTTPS:
			if srv.Endpoint == "" {
				add("%s.endpoint: required for type %s", p, srv.Type)
			}
		case MCPTypeCluster:
			if srv.Service == nil || srv.Service.Name == "" || srv.Service.Namespace == "" {
				add("%s.service: name and namespace are required for type cluster", p)
			}
		default:
			add("%s.type: %q is not stdio, http, https or cluster", p, srv.Type)
		}
		for _, k := range sortedKeys(srv.Env) {
			if err := srv.Env[k].Validate(); err != nil {
				add("%s.env.%s: %v", p, k, err)
			}
		}
		for _, k := range sortedKeys(srv.Headers) {
			if err := srv.Headers[k].Validate(); err != nil {
				add("%s.headers.%s: %v", p, k, err)
			}
		}
	}
	if st.MaxSlots < 0 {
		add("maxSlots: must not be negative")
	}
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs)
	return fmt.Errorf("invalid stack file: %s", strings.Join(errs, "; "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

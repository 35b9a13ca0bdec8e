package stackfile

import (
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"time"
)

// Funcs returns the template functions of spec section 2, bound to ctx (envOr reads ctx.EnvMap,
// now returns ctx.Now). The argument order is the contract's, not sprig's.
func Funcs(ctx *Context) template.FuncMap {
	return template.FuncMap{
		"default":    defaultFunc,
		"toLower":    strings.ToLower,
		"slug":       slug,
		"truncSHA":   truncSHA,
		"envOr":      func(key, def string) string { return envOr(ctx.EnvMap, key, def) },
		"ternary":    ternary,
		"now":        func() time.Time { return ctx.Now },
		"join":       join,
		"indent":     indent,
		"trimPrefix": strings.TrimPrefix,
	}
}

// defaultFunc implements `default VALUE DEF`: DEF when VALUE is empty or only white space.
func defaultFunc(value, def any) any {
	if isBlank(value) {
		return def
	}
	return value
}

func isBlank(v any) bool {
	if v == nil {
		return true
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s) == ""
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return true
		}
	}
	return strings.TrimSpace(fmt.Sprint(v)) == ""
}

// slug trims, lower-cases and turns spaces and underscores into dashes.
func slug(s string) string {
	return strings.NewReplacer(" ", "-", "_", "-").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// truncSHA returns the first 12 characters of s.
func truncSHA(s string) string {
	r := []rune(s)
	if len(r) <= 12 {
		return s
	}
	return string(r[:12])
}

func envOr(m map[string]string, key, def string) string {
	if v, ok := m[key]; ok && v != "" {
		return v
	}
	return def
}

// ternary implements `ternary COND A B`.
func ternary(cond bool, a, b any) any {
	if cond {
		return a
	}
	return b
}

// join implements `join LIST SEP` for any slice or array.
func join(list any, sep string) (string, error) {
	switch l := list.(type) {
	case nil:
		return "", nil
	case []string:
		return strings.Join(l, sep), nil
	}
	rv := reflect.ValueOf(list)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		parts[i] = fmt.Sprint(rv.Index(i).Interface())
	}
	return strings.Join(parts, sep), nil
}

// maxIndent bounds indent's N (a typo must not allocate gigabytes).
const maxIndent = 1 << 12

// indent prefixes every line of s (trailing newlines dropped) with n spaces; "" stays "".
func indent(n int, s string) (string, error) {
	if n > maxIndent {
		return "", fmt.Errorf("indent: %d spaces is too many (at most %d)", n, maxIndent)
	}
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "", nil
	}
	if n < 0 {
		n = 0
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

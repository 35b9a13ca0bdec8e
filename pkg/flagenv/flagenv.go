// Package flagenv lets environment variables supply command-line flags: every flag NAME may come
// from AGENTLINE_<NAME in upper snake case> (e.g. --results-dir from AGENTLINE_RESULTS_DIR), and a
// flag given explicitly on the command line always wins over the variable.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// Prefix starts every variable name.
const Prefix = "AGENTLINE_"

// Key returns the environment variable that supplies flag name.
func Key(name string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Lookup returns the value of key in environ (KEY=VALUE entries; the last one wins, as in a
// process environment built by appending).
func Lookup(environ []string, key string) (string, bool) {
	val, found := "", false
	for _, e := range environ {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// Parse parses args into fs, then sets every flag that was not given explicitly from its
// non-empty AGENTLINE_* variable in environ. Flags named in skip are never read from the
// environment (for variables that mean something else, e.g. a precedence layer of their own).
// Errors name the variable and its value.
func Parse(fs *flag.FlagSet, args, environ []string, skip ...string) error {
	return ParseFunc(fs, args, func(key string) string { v, _ := Lookup(environ, key); return v }, skip...)
}

// ParseFunc is Parse with a lookup function (such as os.Getenv) instead of an environment list.
func ParseFunc(fs *flag.FlagSet, args []string, getenv func(key string) string, skip ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, s := range skip {
		explicit[s] = true
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] {
			return
		}
		key := Key(f.Name)
		if v := getenv(key); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

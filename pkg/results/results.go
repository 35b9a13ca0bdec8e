// Package results writes Tekton Task results: one file per result in the results folder
// (--results-dir, /tekton/results in a step), holding the value without a trailing newline.
package results

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Write writes each value to dir/name. An empty dir writes nothing (results not requested).
// Every file is attempted; the error names each result that could not be written.
func Write(dir string, values map[string]string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results dir %s: %w", dir, err)
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(values[name]), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("write result %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

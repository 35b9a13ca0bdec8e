//go:build tools

// Package tools pins the Tekton Triggers EventListener sink and core interceptors.
package tools

import (
	_ "github.com/tektoncd/triggers/cmd/eventlistenersink"
	_ "github.com/tektoncd/triggers/cmd/interceptors"
)

//go:build tools

// Package tools pins ko, which builds agentline's images and resolves the ko:// references of
// config/ (hack/ko.sh).
package tools

import (
	_ "github.com/google/ko"
)

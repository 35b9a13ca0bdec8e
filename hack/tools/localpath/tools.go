//go:build tools

// Package tools pins rancher's local-path-provisioner, the local stack's dynamic hostPath
// volume provisioner (binary name local-path-provisioner; its main package is the module root).
package tools

import (
	_ "github.com/rancher/local-path-provisioner"
)

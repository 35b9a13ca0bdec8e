//go:build tools

// Package tools pins crane and the OCI registry from go-containerregistry.
package tools

import (
	_ "github.com/google/go-containerregistry/cmd/crane"
	_ "github.com/google/go-containerregistry/cmd/registry"
)

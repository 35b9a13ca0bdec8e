//go:build tools

// Package tools pins the kaniko executor (chainguard-dev fork; upstream is archived) that
// kaniko-wrap's build tests run inside a throwaway chroot.
package tools

import _ "github.com/chainguard-dev/kaniko/cmd/executor"

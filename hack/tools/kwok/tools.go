//go:build tools

// Package tools pins kwok, the fake kubelet of agentline's local stack.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"

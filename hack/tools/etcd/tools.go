//go:build tools

// Package tools pins etcd for agentline's local stack.
package tools

import _ "go.etcd.io/etcd/server/v3/etcdmain"

// Command agent-run prepares and runs the coding agent (the Codex CLI by default) in the slot's
// workspace and writes what it did as Tekton results. See pkg/agent and `agent-run -h`.
package main

import (
	"context"
	"os"

	"github.com/agentline/agentline/pkg/agent"
)

func main() {
	ctx, stop := agent.SignalContext(context.Background())
	code := agent.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

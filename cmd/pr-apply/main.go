// Command pr-apply checks out the work branch, commits and pushes what the agent changed, opens
// or updates the draft pull request, keeps the environment comment up to date and cleans up
// agent branches. See pkg/prapply and `pr-apply -h`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentline/agentline/pkg/prapply"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := prapply.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command kaniko-wrap mirrors a stack's external images into the cluster registry and builds its
// build images with the kaniko executor. See `kaniko-wrap help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentline/agentline/pkg/images"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := images.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command render turns a services.yaml stack file into Kubernetes objects and prints, applies or
// destroys them: render template|apply|destroy --config PATH --env ENV [flags]. See pkg/render.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentline/agentline/pkg/render"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := render.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

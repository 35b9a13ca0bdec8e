// Command slot-lease leases per-issue dev slots through Kubernetes Leases:
// slot-lease acquire|renew|release|link|status|gc|adopt [flags]. See pkg/slots and pkg/slots/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentline/agentline/pkg/slots/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

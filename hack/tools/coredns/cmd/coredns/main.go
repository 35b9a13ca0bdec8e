// Command coredns is CoreDNS (github.com/coredns/coredns) linked with only the plugins agentline's
// local stack needs to serve cluster DNS from a host process: it is upstream's coredns.go with a
// hand-written plugin list in place of core/plugin (every plugin, including the cloud providers),
// which keeps the build short. Directive order follows upstream's core/dnsserver/zdirectives.go.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
)

func init() {
	// The subset of upstream's directive list whose plugins are linked above, in upstream order.
	dnsserver.Directives = []string{
		"reload",
		"bind",
		"ready",
		"health",
		"prometheus",
		"errors",
		"log",
		"loadbalance",
		"cache",
		"hosts",
		"kubernetes",
		"forward",
		"whoami",
	}
}

func main() {
	coremain.Run()
}

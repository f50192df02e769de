// CoreDNS for the test cluster's DNS (hack/cluster.sh), with only the plugins its Corefile
// uses. A build of github.com/coredns/coredns with the default plugin list would also
// compile every cloud provider's SDK; this is the project's documented way to choose
// plugins (coremain plus blank imports). No forward plugin: the cluster never asks a
// resolver outside itself.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The order plugins run in; the same relative order as CoreDNS's own plugin.cfg.
	dnsserver.Directives = []string{"errors", "log", "health", "ready", "loadbalance", "cache", "kubernetes"}
}

func main() { coremain.Run() }

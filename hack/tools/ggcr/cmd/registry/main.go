// Command registry serves an OCI registry for agentline's local stack, built on
// go-containerregistry's pkg/registry. Unlike upstream's cmd/registry it takes a listen address
// (pods must reach it on the node address, not only on localhost), keeps blobs on disk, and
// never injects random warnings.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:5000", "listen address")
	blobs := flag.String("blobs", "", "directory for blobs (default: memory)")
	flag.Parse()

	opts := []registry.Option{registry.WithReferrersSupport(true)}
	if *blobs != "" {
		if err := os.MkdirAll(*blobs, 0o755); err != nil {
			log.Fatal(err)
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	l, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on %s", l.Addr())
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: registry.New(opts...)}
	log.Fatal(s.Serve(l))
}

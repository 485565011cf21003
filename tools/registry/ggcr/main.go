// Command ggcr-registry serves go-containerregistry's in-memory registry (pkg/registry) on a
// loopback address, as a real registry implementation for Signet's tests: with
// `-referrers` it answers the OCI 1.1 referrers API, without it it answers 404 there (clients
// fall back to the `sha256-<digest>` tag). Test tool only; Signet never links Go code.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:0", "address to listen on (host:port)")
	referrers := flag.Bool("referrers", false, "serve the OCI 1.1 referrers API")
	quiet := flag.Bool("quiet", true, "do not log each request")
	flag.Parse()

	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatalf("ggcr-registry: cannot listen on %s: %v", *address, err)
	}
	logger := log.New(os.Stderr, "", log.LstdFlags)
	if *quiet {
		logger = log.New(io.Discard, "", 0)
	}
	handler := registry.New(registry.Logger(logger), registry.WithReferrersSupport(*referrers))
	// The bound address on stderr, one line as distribution logs it, so a caller asking for
	// port 0 learns the port.
	os.Stderr.WriteString("listening on " + listener.Addr().String() + "\n")
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.Serve(listener))
}

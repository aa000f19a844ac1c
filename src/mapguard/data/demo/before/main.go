// Command riskd is a small risk decision service: POST /decide evaluates the rules of a
// registry against the attributes of a request and answers allow, review or deny.
//
// It logs to stdout, so that stderr carries only what the runtime writes there: run it with
// GODEBUG=gctrace=1 and stderr is the GC trace, one line per cycle. SIGINT/SIGTERM shut it down
// cleanly. Profiles are served under /debug/pprof/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/riskd/internal/risk"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	cacheTTL := flag.Duration("cache-ttl", 30*time.Second, "how long a decision is cached")
	cacheSize := flag.Int("cache-size", 10000, "maximum number of cached decisions")
	flag.Parse()

	logger := log.New(os.Stdout, "riskd ", log.LstdFlags|log.Lmicroseconds)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Fatalf("listen: %v", err)
	}
	srv := &http.Server{
		Handler:           risk.NewServer(risk.Options{CacheTTL: *cacheTTL, CacheSize: *cacheSize, Logger: logger}).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	// The exact line tests and tools wait for: it carries the bound address.
	fmt.Printf("riskd listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Fatalf("serve: %v", err)
		}
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			logger.Printf("shutdown: %v", err)
		}
		logger.Printf("stopped")
	}
}

// race-package: server
package server

import (
	"context"
	"testing"

	"example.com/corpus/mg015_metadata_negative/md"
)

func parentContext() context.Context {
	ctx := md.NewIncomingContext(context.Background(), md.Pairs("grpc-timeout", "1S", "x-user", "u1"))
	ctx = md.NewOutgoingContext(ctx, md.Pairs("x-tenant", "t1"))
	return md.NewTrailerContext(ctx, md.Pairs("grpc-message", "ok"))
}

// The getters copy: goroutines deriving from one parent write metadata of their own.
func TestCleanDeriveFromSharedParent(t *testing.T) {
	parent := parentContext()
	raceHammer(4, func(g int) {
		_ = ForwardIncoming(parent)
		_ = WithRequestID(parent, "r")
		_ = WithStatus(parent, g)
		_ = WithPeer(parent, "vendor")
	})
}

// A fan-out: every backend gets a context derived from one forwarded parent.
func TestCleanFanOut(t *testing.T) {
	backend := func(ctx context.Context) error {
		out, _ := md.FromOutgoingContext(ctx)
		out.Set("x-backend", "b")
		return nil
	}
	raceHammer(2, func(g int) {
		FanOut(parentContext(), []Backend{backend, backend, backend, backend})
	})
}

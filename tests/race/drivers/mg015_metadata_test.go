// race-package: client
package client

import (
	"context"
	"testing"

	"example.com/corpus/mg015_metadata/md"
)

// A fresh parent context per round that carries received and outgoing metadata; two calls
// to backends are prepared from it on two goroutines.
func concurrently(call func(parent context.Context)) {
	for round := 0; round < 8; round++ {
		parent := md.NewIncomingContext(context.Background(),
			md.Pairs("grpc-timeout", "1S", "authorization", "Bearer in"))
		parent = md.NewOutgoingContext(parent, md.Pairs("cookie", "c=1", "x-forwarded-for", "10.0.0.1"))
		raceHammer(2, func(g int) { call(parent) })
	}
}

func TestRaceWithRequestID(t *testing.T) {
	concurrently(func(ctx context.Context) { WithRequestID(ctx, "r") })
}

func TestRaceWithToken(t *testing.T) {
	concurrently(func(ctx context.Context) { WithToken(ctx, "tok") })
}

func TestRaceWithForwardedFor(t *testing.T) {
	concurrently(func(ctx context.Context) { WithForwardedFor(ctx, "10.0.0.2") })
}

func TestRaceWithoutCookies(t *testing.T) {
	concurrently(func(ctx context.Context) { WithoutCookies(ctx) })
}

func TestRaceForward(t *testing.T) {
	concurrently(func(ctx context.Context) { Forward(ctx) })
}

func TestRaceWithDebugHeaders(t *testing.T) {
	concurrently(func(ctx context.Context) { WithDebugHeaders(ctx, "auth, cache") })
}

func TestRaceAppendToOutgoingContext(t *testing.T) {
	concurrently(func(ctx context.Context) { md.AppendToOutgoingContext(ctx, "x-shard", "7") })
}

// Each call starts from a context without metadata: every helper makes a map of its own.
func TestCleanCallsFromEmptyContexts(t *testing.T) {
	invoke := func(ctx context.Context, method string) error {
		meta, _ := md.FromOutgoingContext(ctx)
		_ = meta.Get("x-request-id")
		return nil
	}
	raceHammer(4, func(g int) {
		_ = Call(context.Background(), invoke, "/svc/Get", "r", "tok")
		_ = md.AppendToOutgoingContext(context.Background(), "x-shard", "7")
	})
}

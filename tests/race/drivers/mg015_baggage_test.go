package baggage

import (
	"context"
	"testing"
)

// A fresh parent context per round that already carries baggage and hop counts; two spans
// start from it on two goroutines.
func concurrently(call func(parent context.Context)) {
	for round := 0; round < 8; round++ {
		parent := ContextWithBaggage(context.Background(), Baggage{"user": "u1", "tenant": "t0"})
		parent = context.WithValue(parent, hopsKey{}, map[string]int{"api": 1})
		raceHammer(2, func(g int) { call(parent) })
	}
}

func TestRaceWithMember(t *testing.T) {
	concurrently(func(ctx context.Context) { WithMember(ctx, "plan", "pro") })
}

func TestRaceWithoutMember(t *testing.T) {
	concurrently(func(ctx context.Context) { WithoutMember(ctx, "user") })
}

func TestRaceWithMembers(t *testing.T) {
	concurrently(func(ctx context.Context) { WithMembers(ctx, "region=eu, az=b") })
}

func TestRaceWithTenant(t *testing.T) {
	concurrently(func(ctx context.Context) { WithTenant(ctx, "t1") })
}

func TestRaceSampled(t *testing.T) {
	concurrently(func(ctx context.Context) { Sampled(ctx) })
}

func TestRaceAnonymous(t *testing.T) {
	concurrently(func(ctx context.Context) { Anonymous(ctx) })
}

func TestRaceHop(t *testing.T) {
	concurrently(func(ctx context.Context) { Hop(ctx, "billing") })
}

// Readers only, and writers on contexts that carry no baggage yet: nothing shared is written.
func TestCleanReadersAndFreshBaggage(t *testing.T) {
	parent := ContextWithBaggage(context.Background(), Baggage{"user": "u1"})
	raceHammer(4, func(g int) {
		_ = Header(parent)
		_ = Hops(parent, "api")
		ctx := WithMember(context.Background(), "plan", "pro")
		_ = Header(Hop(ctx, "billing"))
	})
}

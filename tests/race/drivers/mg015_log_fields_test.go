package logctx

import (
	"context"
	"testing"
)

// A fresh parent context per round carrying fields and labels; two goroutines log for two
// sub-tasks of the request at once.
func concurrently(call func(parent context.Context)) {
	for round := 0; round < 8; round++ {
		parent := NewContext(context.Background(), Fields{"request_id": "r1"})
		parent = context.WithValue(parent, labelsKey{}, Labels{"handler": "orders"})
		raceHammer(2, func(g int) { call(parent) })
	}
}

func TestRaceWith(t *testing.T) {
	concurrently(func(ctx context.Context) { With(ctx, "user", "u1") })
}

func TestRaceWithFields(t *testing.T) {
	concurrently(func(ctx context.Context) { WithFields(ctx, map[string]any{"shard": 3}) })
}

func TestRaceWithoutFields(t *testing.T) {
	concurrently(func(ctx context.Context) { WithoutFields(ctx) })
}

func TestRaceWithLabel(t *testing.T) {
	concurrently(func(ctx context.Context) { WithLabel(ctx, "phase", "load") })
}

// Labels are added to copies; fields are only read.
func TestCleanCopiedLabels(t *testing.T) {
	parent := NewContext(context.Background(), Fields{"request_id": "r1"})
	parent = context.WithValue(parent, labelsKey{}, Labels{"handler": "orders"})
	raceHammer(4, func(g int) {
		ctx := WithLabelCopied(parent, "phase", "load")
		_ = WithLabelCopied(ctx, "step", "2")
		_ = Attrs(parent)
	})
}

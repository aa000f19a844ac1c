package tenancy

import (
	"context"
	"testing"
)

// The getters copy: goroutines deriving from one parent write maps of their own.
func TestCleanDeriveFromSharedParent(t *testing.T) {
	parent := NewContext(context.Background(), map[string]string{"tenant": "t1"})
	parent = context.WithValue(parent, quotasKey{}, map[string]int{"cpu": 4})
	raceHammer(4, func(g int) {
		ctx := WithPlan(parent, "pro")
		_ = WithQuota(ctx, "memory", 8)
		_ = WithPlan(context.Background(), "free")
		_ = WithQuota(context.Background(), "cpu", 1)
	})
}

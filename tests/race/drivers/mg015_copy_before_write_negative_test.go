package forward

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// Many goroutines derive from one parent that holds every map: each helper writes a copy
// or a map of its own, so the parent's maps are only read.
func TestCleanDeriveFromSharedParent(t *testing.T) {
	parent := context.WithValue(context.Background(), headerKey{},
		http.Header{"Traceparent": {"00-abc-01"}, "X-Tenant": {"t1"}})
	parent = context.WithValue(parent, queryKey{}, url.Values{"tenant": {"t1"}})
	parent = context.WithValue(parent, baggageKey{}, map[string]string{"user": "u1"})
	raceHammer(4, func(g int) {
		ctx := InjectHeader(parent, "X-Request-Id", "r")
		ctx = WithoutHeader(ctx, "X-Tenant")
		_ = AppendHeader(parent, "Via", "1.1 edge")
		_ = WithQueryParam(parent, "region", "eu")
		_ = WithMember(parent, "plan", "pro")
		_ = WithoutMember(parent, "user")
		_ = WithTraceParent(parent)
		req := raceRequest(http.MethodGet, "/orders", nil)
		Apply(ctx, req)
		Apply(parent, req)
	})
}

// Contexts that carry no maps: the else branches and the fresh maps.
func TestCleanFromEmptyContexts(t *testing.T) {
	raceHammer(4, func(g int) {
		ctx := WithDefaults(context.Background(), "client/1.0")
		ctx = AppendHeader(ctx, "Via", "1.1 edge")
		_ = WithoutHeader(context.Background(), "X-Tenant")
		_ = WithQueryParam(context.Background(), "region", "eu")
		_ = WithoutMember(context.Background(), "user")
		Apply(ctx, raceRequest(http.MethodGet, "/orders", nil))
	})
}

package propagation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// A fresh parent context per round (the detector names a location once) that already holds
// the header and query maps; two goroutines derive from it at once, as two sub-requests
// fanned out from one request do.
func parentContext() context.Context {
	ctx := context.WithValue(context.Background(), headerKey{},
		http.Header{"Connection": {"X-Hop"}, "X-Hop": {"1"}, "X-Tenant": {"t1"}})
	return context.WithValue(ctx, queryKey{}, url.Values{"tenant": {"t1"}})
}

func concurrently(call func(parent context.Context, g int)) {
	for round := 0; round < 8; round++ {
		parent := parentContext()
		raceHammer(2, func(g int) { call(parent, g) })
	}
}

func TestRaceInjectHeader(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { InjectHeader(ctx, "X-Request-Id", "r") })
}

func TestRaceAppendHeader(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { AppendHeader(ctx, "Via", "1.1 edge") })
}

func TestRaceWithoutHeader(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { WithoutHeader(ctx, "X-Tenant") })
}

func TestRaceWithRawHeader(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { WithRawHeader(ctx, "x-api-key", "k", g == 0) })
}

func TestRaceWithoutHopHeaders(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { WithoutHopHeaders(ctx) })
}

func TestRaceWithQueryParam(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { WithQueryParam(ctx, "region", "eu") })
}

func TestRaceWithQueryParams(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { WithQueryParams(ctx, "flag", "a", "b") })
}

func TestRaceWithFreshQuery(t *testing.T) {
	concurrently(func(ctx context.Context, g int) { WithFreshQuery(ctx) })
}

func TestRaceMiddleware(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := Middleware(next)
	concurrently(func(ctx context.Context, g int) {
		req := raceRequest(http.MethodGet, "/orders", nil).WithContext(ctx)
		req.Header.Set("X-Request-Id", "r")
		h.ServeHTTP(httptest.NewRecorder(), req)
	})
}

// Contexts that carry no map yet: each call makes its own, nothing is shared.
func TestCleanWithoutParentMaps(t *testing.T) {
	raceHammer(4, func(g int) {
		ctx := InjectHeader(context.Background(), "X-Request-Id", "r")
		ctx = WithQueryParam(ctx, "region", "eu")
		req := raceRequest(http.MethodGet, "/orders", nil)
		Apply(ctx, req)
	})
}

package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRaceLimit(t *testing.T) {
	for round := 0; round < 10; round++ {
		buckets, strikes = map[string]*bucket{}, map[string]int{}
		h := Limit(1, http.NotFoundHandler())
		raceHammer(2, func(g int) {
			for i := 0; i < 3; i++ {
				fresh := raceRequest(http.MethodGet, "/", nil)
				fresh.RemoteAddr = fmt.Sprintf("10.0.%d.%d:4000", g, i)
				h.ServeHTTP(httptest.NewRecorder(), fresh)
				again := raceRequest(http.MethodGet, "/", nil)
				again.RemoteAddr = "10.9.9.9:4000"
				h.ServeHTTP(httptest.NewRecorder(), again)
			}
		})
	}
}

func TestRaceMergeShards(t *testing.T) {
	shard := map[string]int{"a": 1, "b": 2, "c": 3}
	MergeShards(map[string]int{}, []map[string]int{shard, shard, shard, shard})
}

func TestRaceForget(t *testing.T) {
	buckets = map[string]*bucket{"10.0.0.1": {}, "10.0.0.2": {}}
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			raceServe(http.HandlerFunc(Forget), http.MethodPost, fmt.Sprintf("/unban?ip=10.0.0.%d", i))
		}
	})
}

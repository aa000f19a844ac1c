package handlers

import (
	"net/http"
	"testing"
)

// Every round starts uninitialised; concurrent requests race on the lazy set-up of the quota
// handler (the stateless handlers race too, harmlessly: the rule leaves those alone).
func TestRaceQuota(t *testing.T) {
	for round := 0; round < 6; round++ {
		cluster, storage, quota = nil, nil, nil
		raceHammer(2, func(g int) { raceServe(http.HandlerFunc(Serve), http.MethodGet, "/?id=a") })
	}
}

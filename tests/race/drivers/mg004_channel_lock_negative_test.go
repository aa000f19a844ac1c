package mg004_channel_lock_negative

import (
	"net/http"
	"testing"
)

// jobsLock (bool tokens) is the proof: for a channel of zero-size elements such as iconLock the
// race detector merges all of its operations into one sync object, so it would run clean anyway.
func TestCleanChannelLocks(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	raceHammer(4, func(g int) {
		for _, p := range []string{"/jobs?scheduler=a", "/icon", "/jobs?scheduler=b", "/icon?x=1"} {
			raceServe(mux, http.MethodGet, p)
		}
	})
}

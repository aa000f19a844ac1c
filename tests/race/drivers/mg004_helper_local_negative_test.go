package render

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCleanRender(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			raceServe(mux, http.MethodGet, "/page?user=ann")
		}
	})
	reqs := make([]*http.Request, 4)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/page?user=bob", nil)
	}
	RenderAll(reqs, make([]strings.Builder, len(reqs)))
}

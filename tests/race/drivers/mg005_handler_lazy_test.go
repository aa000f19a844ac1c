package dashboard

import (
	"net/http"
	"testing"
)

// Every round starts uninitialised, and one handler at a time is hit concurrently.
func hammerHandler(target string, h func(*Server) http.Handler) {
	for round := 0; round < 6; round++ {
		pageTmpl, geoTable, apiClient, labels = nil, nil, nil, nil
		s := &Server{}
		handler := h(s)
		raceHammer(2, func(g int) { raceServe(handler, http.MethodGet, target) })
	}
}

func TestRaceDashboard(t *testing.T) {
	hammerHandler("/", func(*Server) http.Handler { return http.HandlerFunc(handleDashboard) })
}

func TestRaceGeo(t *testing.T) {
	hammerHandler("/geo", func(*Server) http.Handler { return http.HandlerFunc(handleGeo) })
}

func TestRaceThumb(t *testing.T) {
	hammerHandler("/thumb?id=1", func(s *Server) http.Handler { return http.HandlerFunc(s.handleThumb) })
}

func TestRaceVersion(t *testing.T) {
	hammerHandler("/version", func(s *Server) http.Handler { return s })
}

func TestRaceUpstreamAndLabels(t *testing.T) {
	mux := http.NewServeMux()
	(&Server{}).Routes(mux)
	hammerHandler("/upstream", func(*Server) http.Handler { return mux })
	hammerHandler("/labels", func(*Server) http.Handler { return http.DefaultServeMux })
}

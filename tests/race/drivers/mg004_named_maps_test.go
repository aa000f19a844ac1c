package codecs

import (
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"testing"
)

func hammerCodecs(send func(mux *http.ServeMux)) {
	for round := 0; round < 8; round++ {
		codecs = registry{"application/json": {Name: "application/json", Quality: 1}}
		negotiated, defaultHeaders = usage{}, http.Header{}
		s := &Server{prefs: textproto.MIMEHeader{}}
		mux := http.NewServeMux()
		s.Routes(mux)
		raceHammer(2, func(g int) { send(mux) })
	}
}

func TestRaceRegister(t *testing.T) {
	hammerCodecs(func(mux *http.ServeMux) { raceServe(mux, http.MethodPost, "/codecs?type=text/csv") })
}

func TestRaceNegotiate(t *testing.T) {
	hammerCodecs(func(mux *http.ServeMux) {
		req := raceRequest(http.MethodGet, "/negotiate", nil)
		req.Header.Set("Accept", "text/html, application/json")
		mux.ServeHTTP(httptest.NewRecorder(), req)
	})
}

func TestRaceDefaults(t *testing.T) {
	hammerCodecs(func(mux *http.ServeMux) { raceServe(mux, http.MethodGet, "/defaults") })
}

func TestRacePrefs(t *testing.T) {
	hammerCodecs(func(mux *http.ServeMux) { raceServe(mux, http.MethodPost, "/prefs?client=curl") })
}

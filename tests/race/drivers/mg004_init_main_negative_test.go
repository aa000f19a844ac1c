package main

import (
	"net/http"
	"testing"
)

func TestCleanStaticHandler(t *testing.T) {
	raceHammer(4, func(g int) {
		for _, p := range []string{"/index.html", "/a.htm", "/site.css", "/app.js", "/x.bin"} {
			raceServe(http.HandlerFunc(handleStatic), http.MethodGet, p)
		}
	})
}

package tracer

import (
	"net/http"
	"testing"
)

func TestCleanWalk(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "/a", nil)
	for round := 0; round < 8; round++ {
		Walk(r, 4)
	}
}

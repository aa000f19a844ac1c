package pubsub

import (
	"net/http"
	"testing"
)

func TestCleanBroker(t *testing.T) {
	b := NewBroker()
	mux := http.NewServeMux()
	b.Routes(mux)
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			raceServe(mux, http.MethodPost, "/subscribe?topic=news&id=a")
			raceServe(mux, http.MethodPost, "/publish?topic=news&msg=hello")
			raceServe(mux, http.MethodPost, "/unsubscribe?topic=news&id=a")
		}
	})
}

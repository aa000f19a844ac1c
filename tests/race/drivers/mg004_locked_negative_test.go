package inventory

import (
	"net/http"
	"testing"
	"time"
)

func TestCleanInventoryHandlers(t *testing.T) {
	s := NewService()
	mux := http.NewServeMux()
	s.Routes(mux)
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			raceServe(mux, http.MethodPost, "/restock?sku=A1&n=3")
			raceServe(mux, http.MethodPost, "/reserve?sku=A1")
			raceServe(mux, http.MethodPost, "/cancel?sku=A1")
			raceServe(mux, http.MethodPost, "/price?sku=A1&cents=499")
			raceServe(mux, http.MethodGet, "/price/get?sku=A1")
			raceServe(mux, http.MethodPost, "/price/clear?sku=A1")
		}
	})
}

func TestCleanSweeperAndImport(t *testing.T) {
	sw := NewSweeper()
	stop := make(chan struct{})
	sw.Run(time.Millisecond, stop)
	raceHammer(4, func(g int) {
		for i := 0; i < 20; i++ {
			sw.Touch("A1")
			time.Sleep(100 * time.Microsecond)
		}
	})
	Import([][]string{{"A1", "B2"}, {"A1", "C3"}, {"B2", "C3"}, {"A1"}})
	close(stop)
}

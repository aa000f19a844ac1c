package tokens

import (
	"net/http"
	"testing"
)

func TestCleanLockedLazyInit(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	c := &Cache{}
	f := &Refresher{}
	raceHammer(4, func(g int) {
		Issuer("default")
		Client()
		raceServe(mux, http.MethodGet, "/token")
		c.Put("read", &Token{Value: "t"})
		c.Get("read")
		f.Wait("read")
	})
}

package templates

import (
	"net/http"
	"testing"
)

func TestCleanOnce(t *testing.T) {
	m := &Mailer{}
	raceHammer(4, func(g int) {
		Lookup("welcome")
		Subject("welcome")
		m.Headers()
		raceServe(m, http.MethodGet, "/preview")
	})
}

package mg004_handler_shaped_negative

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// As the package is used: Init once at start-up, NewTestContext from tests that run one
// after another. Nothing serves either function, so nothing runs them at once.
func TestCleanSetupThenTests(t *testing.T) {
	Init()
	for i := 0; i < 4; i++ {
		if _, err := NewTestContext(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)); err != nil {
			t.Fatal(err)
		}
	}
}

package risk

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestDecide(t *testing.T) {
	h := NewServer(Options{}).Handler()
	body := `{"tenant":"acme","subject":"u1","attributes":{"amount":6000,"country":"NG","device":"emulator-x86"}}`
	rec := do(t, h, http.MethodPost, "/decide", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var d Decision
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Outcome != "deny" || d.Cached || d.Top != "device_emulator" {
		t.Fatalf("unexpected decision %+v", d)
	}
	rec = do(t, h, http.MethodPost, "/decide", body)
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || !d.Cached {
		t.Fatalf("second decision not cached: %s", rec.Body)
	}
	if rec := do(t, h, http.MethodPost, "/decide", `{"subject":"u1"}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("missing tenant: status %d", rec.Code)
	}
}

// TestHandlersConcurrently drives every endpoint from several goroutines at once; run with
// -race it proves the fixed service shares its maps safely.
func TestHandlersConcurrently(t *testing.T) {
	h := NewServer(Options{CacheTTL: time.Second, CacheSize: 64}).Handler()
	const workers, perWorker = 8, 60
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				var rec *httptest.ResponseRecorder
				want := http.StatusOK
				switch i % 12 {
				case 1:
					rec = do(t, h, http.MethodPost, "/feedback", fmt.Sprintf(`{"id":"d-%d","label":"fraud"}`, i))
					want = http.StatusNoContent
				case 4:
					rec = do(t, h, http.MethodPost, "/admin/override", fmt.Sprintf(`{"tenant":"t%d","rule":"amount_high","weight":0.%d}`, w, i%10))
					want = http.StatusNoContent
				case 6:
					rec = do(t, h, http.MethodPost, "/admin/thresholds", `{"review":0.5,"deny":1.0}`)
					want = http.StatusNoContent
				case 8:
					rec = do(t, h, http.MethodPost, "/admin/reload", "")
				case 10:
					rec = do(t, h, http.MethodGet, "/stats", "")
				case 11:
					rec = do(t, h, http.MethodGet, "/healthz", "")
				default:
					body := fmt.Sprintf(`{"tenant":"t%d","subject":"s%d","attributes":{"amount":%d,"country":"BR","tx_1h":%d}}`, w, i%5, i*37, i%13)
					rec = do(t, h, http.MethodPost, "/decide", body)
				}
				if rec.Code != want {
					t.Errorf("worker %d step %d: status %d: %s", w, i, rec.Code, rec.Body)
				}
			}
		}(w)
	}
	wg.Wait()
}

package warmup

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestRacePrefetch(t *testing.T) {
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	for round := 0; round < 4; round++ {
		Prefetch(keys, func(k string) []byte { return []byte(k) })
	}
	time.Sleep(100 * time.Millisecond)
}

func TestRaceSubmit(t *testing.T) {
	for round := 0; round < 4; round++ {
		tr := NewTracker()
		for i := 0; i < 4; i++ {
			tr.Submit(strconv.Itoa(i))
		}
	}
	time.Sleep(100 * time.Millisecond)
}

func TestRaceFinish(t *testing.T) {
	for round := 0; round < 8; round++ {
		tr := NewTracker()
		for i := 0; i < 4; i++ {
			tr.pending[strconv.Itoa(i)] = time.Now()
		}
		for i := 0; i < 4; i++ {
			tr.Finish(strconv.Itoa(i))
		}
	}
	time.Sleep(100 * time.Millisecond)
}

func TestRaceAudit(t *testing.T) {
	for round := 0; round < 4; round++ {
		auditTrail = map[string]string{}
		raceHammer(2, func(g int) {
			raceServe(http.HandlerFunc(HandleAudit), http.MethodGet, "/audit")
		})
		time.Sleep(20 * time.Millisecond)
	}
}

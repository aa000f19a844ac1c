package apiclient

import (
	"testing"
	"time"
)

// Every writer holds only the read lock, so the race is between two read-lock holders: two
// goroutines call the same method on a fresh value per round.

func TestRaceTokenMiss(t *testing.T) {
	for round := 0; round < 8; round++ {
		c := NewTokenCache()
		raceHammer(2, func(g int) {
			for i := 0; i < 4; i++ {
				c.Get("billing", time.Now())
			}
		})
	}
}

func TestRaceTokenExpired(t *testing.T) {
	for round := 0; round < 8; round++ {
		c := NewTokenCache()
		c.Put("billing", Token{Value: "t0", Expires: time.Now().Add(-time.Minute)})
		raceHammer(2, func(g int) {
			c.Get("billing", time.Now())
		})
	}
}

func TestRaceTake(t *testing.T) {
	for round := 0; round < 8; round++ {
		q := NewQuotas()
		q.SetLimit("acme", 1000)
		raceHammer(2, func(g int) {
			for i := 0; i < 4; i++ {
				q.Take("acme")
			}
		})
	}
}

func TestRaceRefund(t *testing.T) {
	for round := 0; round < 8; round++ {
		q := NewQuotas()
		q.SetLimit("acme", 1000)
		for i := 0; i < 100; i++ {
			q.Take("acme")
		}
		raceHammer(2, func(g int) {
			for i := 0; i < 4; i++ {
				q.Refund("acme")
			}
		})
	}
}

func TestRaceChanged(t *testing.T) {
	for round := 0; round < 8; round++ {
		gs := NewGauges()
		gs.Set("inflight", 3)
		gs.Set("queue", 7)
		raceHammer(2, func(g int) {
			gs.Changed()
		})
	}
}

package consumer

import (
	"testing"
	"time"
)

func hammerConsumer(call func(o *Consumer, g int)) {
	for round := 0; round < 6; round++ {
		o := New(time.Hour)
		raceHammer(2, func(g int) { call(o, g) })
	}
}

func TestRaceRegisterWaiter(t *testing.T) {
	hammerConsumer(func(o *Consumer, g int) { o.Pull("puller") })
}

func TestRaceAck(t *testing.T) {
	hammerConsumer(func(o *Consumer, g int) { o.Ack(uint64(g)) })
}

func TestRaceCount(t *testing.T) {
	hammerConsumer(func(o *Consumer, g int) { o.Count("delivered") })
}

func TestRaceLookup(t *testing.T) {
	for round := 0; round < 6; round++ {
		consumers = nil
		raceHammer(2, func(g int) { Get("orders") })
	}
}

// The documented helpers run under the lock their callers take: clean.
func TestCleanDeliver(t *testing.T) {
	o := New(time.Hour)
	raceHammer(4, func(g int) {
		o.Deliver(uint64(g), "reply")
		Register("orders", o)
	})
	o.mu.Lock()
	o.ptmr.Stop()
	o.mu.Unlock()
}

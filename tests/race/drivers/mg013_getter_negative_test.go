package guarded

import (
	"testing"
	"time"
)

func count[K comparable, V any](m map[K]V) int {
	n := 0
	for range m {
		n++
	}
	return n
}

// Copies, copy-on-write, a map nobody writes after construction, a caller holding the
// embedded lock, and a check-out the writers wait for: all run clean.
func TestCleanGetters(t *testing.T) {
	table := NewTable()
	snapshot := &Snapshot{data: map[string]string{}}
	config := NewConfig(map[string]string{"a": "b"})
	shared := &Shared{Items: map[string]int{}}
	raceHammer(4, func(g int) {
		for i := 0; i < 20; i++ {
			if g%2 == 0 {
				table.Put("a", i)
				snapshot.Set("a", "b")
				snapshot.Reset("s")
				shared.Bump("a")
				continue
			}
			_ = count(table.Rows())
			_ = table.Sum() + table.Len()
			_ = count(snapshot.Data())
			_ = count(config.Values())
			shared.Lock()
			_ = count(shared.All())
			shared.Unlock()
		}
	})
}

func TestCleanCheckOut(t *testing.T) {
	b := NewBuffer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			b.Put("k", []byte("v"))
		}
	}()
	for i := 0; i < 5; i++ {
		_ = count(b.TakeForFlush())
		time.Sleep(time.Millisecond)
		b.Flushed()
	}
	<-done
}

func TestCleanSharedLock(t *testing.T) {
	d := NewDedupe()
	raceHammer(4, func(g int) {
		own := d.Named("worker")
		for i := 0; i < 20; i++ {
			own.Observe("line")
		}
	})
}

package maplab

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// goroutineCounts is 1, 2 and GOMAXPROCS, without repeats.
func goroutineCounts() []int {
	counts := []int{1}
	for _, n := range []int{2, runtime.GOMAXPROCS(0)} {
		if n > counts[len(counts)-1] {
			counts = append(counts, n)
		}
	}
	return counts
}

// mix runs b.N operations on m, split over the goroutines, each a read with probability
// readPermille/1000 and otherwise a write, on keys spread over the whole key space.
func mix(b *testing.B, m ConcurrentMap, goroutines, readPermille int) {
	var wg sync.WaitGroup
	p := startProbe(b)
	for g := 0; g < goroutines; g++ {
		ops := b.N / goroutines
		if g == 0 {
			ops += b.N % goroutines
		}
		wg.Add(1)
		go func(x uint64, ops int) {
			defer wg.Done()
			for i := 0; i < ops; i++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				k := int(x % uint64(concurrentKeys))
				if int((x>>32)%1000) < readPermille {
					m.Load(k)
				} else {
					m.Store(k, i)
				}
			}
		}(uint64(g+1)*0x9E3779B97F4A7C15, ops)
	}
	wg.Wait()
	p.stop()
}

// BenchmarkConcurrent: a map shared by 1, 2 and GOMAXPROCS goroutines that all read and
// write it, at several read ratios, behind a sync.RWMutex, as a sync.Map, published
// copy-on-write through an atomic.Pointer, and split into 16 locked shards.
func BenchmarkConcurrent(b *testing.B) {
	impls := []struct {
		name string
		make func() ConcurrentMap
	}{
		{"rwmutex", func() ConcurrentMap { return NewLockedMap(concurrentKeys) }},
		{"syncmap", func() ConcurrentMap { return NewSyncMap(concurrentKeys) }},
		{"cow", func() ConcurrentMap { return NewCopyOnWriteMap(concurrentKeys) }},
		{"sharded", func() ConcurrentMap { return NewShardedMap(concurrentKeys) }},
	}
	for _, goroutines := range goroutineCounts() {
		for _, permille := range readPermilles {
			reads := strconv.FormatFloat(float64(permille)/10, 'f', -1, 64)
			for _, impl := range inRoundOrder(impls) {
				name := fmt.Sprintf("impl=%s/goroutines=%d/reads=%s", impl.name, goroutines, reads)
				b.Run(name, func(b *testing.B) {
					mix(b, impl.make(), goroutines, permille)
				})
			}
		}
	}
}

// BenchmarkPublish: loading and storing a published map through atomic.Pointer[T] and
// through unsafe.Pointer with atomic.LoadPointer/StorePointer.
func BenchmarkPublish(b *testing.B) {
	m := make(map[int]int, 64)
	fill(m, 64)
	StoreTyped(m)
	StoreUnsafe(m)
	cases := []struct {
		name string
		op   func(int)
	}{
		{"op=load/api=typed", func(i int) { countSink += LoadTyped(i & 63) }},
		{"op=load/api=unsafe", func(i int) { countSink += LoadUnsafe(i & 63) }},
		{"op=store/api=typed", func(int) { StoreTyped(m) }},
		{"op=store/api=unsafe", func(int) { StoreUnsafe(m) }},
	}
	for _, c := range inRoundOrder(cases) {
		b.Run(c.name, func(b *testing.B) {
			p := startProbe(b)
			for i := 0; i < b.N; i++ {
				c.op(i)
			}
			p.stop()
		})
	}
}

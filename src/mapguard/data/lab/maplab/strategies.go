// Package maplab holds the map-update strategies that `mapguard lab` measures. They live in a
// non-test file so that the compiler's escape analysis (`go build -gcflags=-m=2`) and its
// assembly listing (`-gcflags=-S`) can be read for exactly the code the benchmarks run.
//
// Every strategy is marked noinline: each is measured as one call, and each keeps its own
// symbol, so the listing shows what the compiler made of it.
package maplab

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Holder keeps a map the way long-lived state does: in a field, reached through a pointer.
type Holder struct {
	M map[int]int
}

// fill inserts keys 0..n-1.
func fill(m map[int]int, n int) {
	for i := 0; i < n; i++ {
		m[i] = i
	}
}

// --- re-create, clear, or delete every key ---------------------------------------------------

//go:noinline
func RefillByMake(h *Holder, n int) {
	h.M = make(map[int]int)
	fill(h.M, n)
}

//go:noinline
func RefillByClear(h *Holder, n int) {
	clear(h.M)
	fill(h.M, n)
}

//go:noinline
func RefillByDeleteLoop(h *Holder, n int) {
	for k := range h.M {
		delete(h.M, k)
	}
	fill(h.M, n)
}

// ClearByBuiltin and ClearByDeleteLoop empty a map; the compiler turns the exact loop into the
// same runtime call as the builtin, except in -race and -N builds.
//
//go:noinline
func ClearByBuiltin(m map[int]int) {
	clear(m)
}

//go:noinline
func ClearByDeleteLoop(m map[int]int) {
	for k := range m {
		delete(m, k)
	}
}

// The same loop over float keys cannot be turned into a clear: NaN keys never compare equal.
//
//go:noinline
func ClearFloatsByDeleteLoop(m map[float64]int) {
	for k := range m {
		delete(m, k)
	}
}

//go:noinline
func ClearFloatsByBuiltin(m map[float64]int) {
	clear(m)
}

// --- replacing a caller's map ----------------------------------------------------------------

// ResetViaPointer replaces the caller's map through a pointer to it.
//
//go:noinline
func ResetViaPointer(p *map[int]int, n int) {
	*p = make(map[int]int)
	fill(*p, n)
}

// NewFilled returns a new map; the caller stores it.
//
//go:noinline
func NewFilled(n int) map[int]int {
	m := make(map[int]int)
	fill(m, n)
	return m
}

// Refill reuses the caller's map.
//
//go:noinline
func Refill(m map[int]int, n int) {
	clear(m)
	fill(m, n)
}

// CountLocal builds a map that never leaves the function.
//
//go:noinline
func CountLocal(n int) int {
	m := make(map[int]int)
	fill(m, n)
	return len(m)
}

// WriteThroughValue writes to a map passed by value: the caller's map changes too, because a
// map value is a pointer to its table.
//
//go:noinline
func WriteThroughValue(m map[int]int, k, v int) {
	m[k] = v
}

// --- a map per request, or pooled ------------------------------------------------------------

// CountWords counts a request's words in m and returns how many distinct words it saw.
func CountWords(m map[string]int, words []string) int {
	for _, w := range words {
		m[w]++
	}
	return len(m)
}

//go:noinline
func PerRequest(words []string) int {
	m := make(map[string]int)
	n := CountWords(m, words)
	Sink = m
	return n
}

var (
	ClearedPool   = sync.Pool{New: func() any { return make(map[string]int) }}
	UnclearedPool = sync.Pool{New: func() any { return make(map[string]int) }}
	// Sink keeps a map reachable, as a handler that hands its map on would.
	Sink map[string]int
)

// PooledCleared returns the number of entries the map already held when it came from the pool.
//
//go:noinline
func PooledCleared(words []string) (distinct, leaked int) {
	m := ClearedPool.Get().(map[string]int)
	leaked = len(m)
	distinct = CountWords(m, words)
	clear(m)
	ClearedPool.Put(m)
	return distinct, leaked
}

//go:noinline
func PooledUncleared(words []string) (distinct, leaked int) {
	m := UnclearedPool.Get().(map[string]int)
	leaked = len(m)
	distinct = CountWords(m, words)
	UnclearedPool.Put(m)
	return distinct, leaked
}

// --- building keys -----------------------------------------------------------------------------

type Pair struct{ A, B string }

//go:noinline
func LookupConcat(m map[string]int, a, b string) int { return m[a+"/"+b] }

//go:noinline
func IncrementConcat(m map[string]int, a, b string) { m[a+"/"+b]++ }

//go:noinline
func LookupSprint(m map[string]int, a, b string) int { return m[fmt.Sprintf("%s/%s", a, b)] }

//go:noinline
func LookupStruct(m map[Pair]int, a, b string) int { return m[Pair{a, b}] }

//go:noinline
func IncrementStruct(m map[Pair]int, a, b string) { m[Pair{a, b}]++ }

//go:noinline
func LookupBytes(m map[string]int, key []byte) int { return m[string(key)] }

//go:noinline
func LookupItoa(m map[string]int, prefix string, id int) int {
	return m[prefix+strconv.Itoa(id)]
}

// --- hints -------------------------------------------------------------------------------------

//go:noinline
func FillWithoutHint(n int) map[int]int {
	m := make(map[int]int)
	fill(m, n)
	return m
}

//go:noinline
func FillWithHint(n int) map[int]int {
	m := make(map[int]int, n)
	fill(m, n)
	return m
}

// --- publishing a map: atomic.Pointer against unsafe.Pointer ------------------------------------

var (
	typedRoutes  atomic.Pointer[map[int]int]
	unsafeRoutes unsafe.Pointer // *map[int]int
)

//go:noinline
func LoadTyped(k int) int { return (*typedRoutes.Load())[k] }

//go:noinline
func LoadUnsafe(k int) int {
	return (*(*map[int]int)(atomic.LoadPointer(&unsafeRoutes)))[k]
}

//go:noinline
func StoreTyped(m map[int]int) { typedRoutes.Store(&m) }

//go:noinline
func StoreUnsafe(m map[int]int) { atomic.StorePointer(&unsafeRoutes, unsafe.Pointer(&m)) }

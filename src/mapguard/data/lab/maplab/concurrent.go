package maplab

import (
	"sync"
	"sync/atomic"
)

// ConcurrentMap is what the concurrency benchmarks exercise: reads and writes of int keys from
// several goroutines at once.
type ConcurrentMap interface {
	Load(k int) (int, bool)
	Store(k, v int)
}

// LockedMap guards a map with a sync.RWMutex: readers share the lock, writers take it alone.
type LockedMap struct {
	mu sync.RWMutex
	m  map[int]int
}

func NewLockedMap(keys int) *LockedMap {
	l := &LockedMap{m: make(map[int]int, keys)}
	fill(l.m, keys)
	return l
}

func (l *LockedMap) Load(k int) (int, bool) {
	l.mu.RLock()
	v, ok := l.m[k]
	l.mu.RUnlock()
	return v, ok
}

func (l *LockedMap) Store(k, v int) {
	l.mu.Lock()
	l.m[k] = v
	l.mu.Unlock()
}

// SyncMap is the standard library's sync.Map.
type SyncMap struct{ m sync.Map }

func NewSyncMap(keys int) *SyncMap {
	s := &SyncMap{}
	for i := 0; i < keys; i++ {
		s.m.Store(i, i)
	}
	return s
}

func (s *SyncMap) Load(k int) (int, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int), true
}

func (s *SyncMap) Store(k, v int) { s.m.Store(k, v) }

// CopyOnWriteMap publishes an immutable map through an atomic.Pointer: readers take no lock;
// a writer copies the map, changes the copy and publishes it (writers serialise on a mutex).
type CopyOnWriteMap struct {
	mu sync.Mutex
	p  atomic.Pointer[map[int]int]
}

func NewCopyOnWriteMap(keys int) *CopyOnWriteMap {
	c := &CopyOnWriteMap{}
	m := make(map[int]int, keys)
	fill(m, keys)
	c.p.Store(&m)
	return c
}

func (c *CopyOnWriteMap) Load(k int) (int, bool) {
	v, ok := (*c.p.Load())[k]
	return v, ok
}

func (c *CopyOnWriteMap) Store(k, v int) {
	c.mu.Lock()
	old := *c.p.Load()
	next := make(map[int]int, len(old)+1)
	for key, value := range old {
		next[key] = value
	}
	next[k] = v
	c.p.Store(&next)
	c.mu.Unlock()
}

// ShardedMap spreads keys over 16 LockedMaps, so that goroutines working on different keys
// rarely want the same lock.
type ShardedMap struct {
	shards [16]LockedMap
}

func NewShardedMap(keys int) *ShardedMap {
	s := &ShardedMap{}
	for i := range s.shards {
		s.shards[i].m = make(map[int]int, keys/len(s.shards)+1)
	}
	for i := 0; i < keys; i++ {
		s.Store(i, i)
	}
	return s
}

func (s *ShardedMap) Load(k int) (int, bool) { return s.shards[uint(k)%16].Load(k) }

func (s *ShardedMap) Store(k, v int) { s.shards[uint(k)%16].Store(k, v) }

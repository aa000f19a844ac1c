package risk

import (
	"sync"
	"time"
)

// cacheKey identifies a decision: same tenant, subject and attributes give the same decision
// until the rules change.
type cacheKey struct {
	tenant, subject string
	fingerprint     uint64
}

type cacheEntry struct {
	decision Decision
	expires  time.Time
}

// Cache is a bounded TTL cache of decisions.
type Cache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[cacheKey]cacheEntry
	hits    uint64
	misses  uint64
}

// NewCache returns an empty cache.
func NewCache(ttl time.Duration, max int) *Cache {
	return &Cache{ttl: ttl, max: max, entries: make(map[cacheKey]cacheEntry, max)}
}

// Get returns a live decision.
func (c *Cache) Get(k cacheKey, now time.Time) (Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || now.After(e.expires) {
		c.misses++
		return Decision{}, false
	}
	c.hits++
	return e.decision, true
}

// Put stores a decision, making room first when the cache is full.
func (c *Cache) Put(k cacheKey, d Decision, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, key)
			}
		}
		for key := range c.entries {
			if len(c.entries) < c.max*3/4 {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = cacheEntry{decision: d, expires: now.Add(c.ttl)}
}

// Invalidate drops every decision (the rules changed).
func (c *Cache) Invalidate() {
	c.mu.Lock()
	for k := range c.entries {
		delete(c.entries, k)
	}
	c.mu.Unlock()
}

// Counts returns hits, misses and size.
func (c *Cache) Counts() (hits, misses uint64, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, len(c.entries)
}

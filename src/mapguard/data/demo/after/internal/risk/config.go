package risk

import (
	"maps"
	"sync"
	"sync/atomic"
)

// overrideKey identifies a per-tenant weight override of a rule.
type overrideKey struct {
	Tenant string
	Rule   string
}

// Config is read on every request without locks: each part is an immutable map published
// through an atomic pointer and replaced as a whole (copy-on-write).
type Config struct {
	mu         sync.Mutex // serialises writers; readers never take it
	thresholds atomic.Pointer[map[string]float64]
	overrides  atomic.Pointer[map[overrideKey]float64]
}

// NewConfig returns the default thresholds: review from 0.5, deny from 1.0.
func NewConfig() *Config {
	c := &Config{}
	th := map[string]float64{"review": 0.5, "deny": 1.0}
	c.thresholds.Store(&th)
	ov := map[overrideKey]float64{{Tenant: "acme", Rule: "velocity_night"}: 0}
	c.overrides.Store(&ov)
	return c
}

// Thresholds returns the published thresholds; callers must not modify the map.
func (c *Config) Thresholds() map[string]float64 {
	return *c.thresholds.Load()
}

// SetThresholds publishes new thresholds.
func (c *Config) SetThresholds(review, deny float64) {
	th := map[string]float64{"review": review, "deny": deny}
	c.thresholds.Store(&th)
}

// overrideTable returns the published overrides; callers must not modify the map.
func (c *Config) overrideTable() map[overrideKey]float64 {
	return *c.overrides.Load()
}

// SetOverride publishes a copy of the overrides with one weight changed.
func (c *Config) SetOverride(tenant, rule string, weight float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := maps.Clone(*c.overrides.Load())
	next[overrideKey{tenant, rule}] = weight
	c.overrides.Store(&next)
}

// Overrides returns the number of overrides.
func (c *Config) Overrides() int {
	return len(*c.overrides.Load())
}

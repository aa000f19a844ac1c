package risk

import (
	"sync/atomic"
	"unsafe"
)

// Config is read on every request without locks: the thresholds live behind an unsafe.Pointer
// swapped atomically ("lock-free map switch"), the per-tenant overrides behind an atomic.Pointer.
type Config struct {
	thresholds unsafe.Pointer // *map[string]float64
	overrides  atomic.Pointer[map[string]float64]
}

// NewConfig returns the default thresholds: review from 0.5, deny from 1.0.
func NewConfig() *Config {
	c := &Config{}
	th := map[string]float64{"review": 0.5, "deny": 1.0}
	atomic.StorePointer(&c.thresholds, unsafe.Pointer(&th))
	ov := map[string]float64{"acme/velocity_night": 0}
	c.overrides.Store(&ov)
	return c
}

// Thresholds returns the published thresholds; callers must not modify the map.
func (c *Config) Thresholds() map[string]float64 {
	return *(*map[string]float64)(atomic.LoadPointer(&c.thresholds))
}

// SetThresholds publishes new thresholds.
func (c *Config) SetThresholds(review, deny float64) {
	th := map[string]float64{"review": review, "deny": deny}
	atomic.StorePointer(&c.thresholds, unsafe.Pointer(&th))
}

// overrideTable returns the published overrides, keyed "tenant/rule".
func (c *Config) overrideTable() map[string]float64 {
	return *c.overrides.Load()
}

// SetOverride changes one weight of the published overrides.
func (c *Config) SetOverride(tenant, rule string, weight float64) {
	m := *c.overrides.Load()
	m[tenant+"/"+rule] = weight
}

// Overrides returns the number of overrides.
func (c *Config) Overrides() int {
	return len(*c.overrides.Load())
}

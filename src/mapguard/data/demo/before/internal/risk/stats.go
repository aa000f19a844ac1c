package risk

import (
	"maps"
	"sync"
	"time"
)

// Stats counts decisions per outcome and tenant.
type Stats struct {
	mu        sync.Mutex
	started   time.Time
	byOutcome map[string]uint64
	byTenant  map[string]uint64
}

// NewStats starts counting now.
func NewStats(now time.Time) *Stats {
	return &Stats{started: now, byOutcome: make(map[string]uint64, 3), byTenant: make(map[string]uint64)}
}

// Record counts one decision.
func (st *Stats) Record(tenant, outcome string) {
	st.mu.Lock()
	st.byOutcome[outcome]++
	st.byTenant[tenant]++
	st.mu.Unlock()
}

// StatsSnapshot is the JSON shape of GET /stats.
type StatsSnapshot struct {
	UptimeSeconds float64           `json:"uptime_seconds"`
	Outcomes      map[string]uint64 `json:"outcomes"`
	Tenants       map[string]uint64 `json:"tenants"`
	CacheHits     uint64            `json:"cache_hits"`
	CacheMisses   uint64            `json:"cache_misses"`
	CacheSize     int               `json:"cache_size"`
	RulesVersion  int               `json:"rules_version"`
	Feedback      int               `json:"feedback"`
	Units         map[string]string `json:"units"`
}

// snapshot copies the counters.
func (st *Stats) snapshot(now time.Time) StatsSnapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	return StatsSnapshot{
		UptimeSeconds: now.Sub(st.started).Seconds(),
		Outcomes:      maps.Clone(st.byOutcome),
		Tenants:       maps.Clone(st.byTenant),
	}
}

// Outcomes returns the outcome counters for a report; Record keeps writing them.
func (st *Stats) Outcomes() map[string]uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.byOutcome
}

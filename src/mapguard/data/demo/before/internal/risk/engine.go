package risk

import (
	"sync"
	"sync/atomic"
)

// Decision is the outcome of one evaluation.
type Decision struct {
	ID      string   `json:"id"`
	Outcome string   `json:"decision"`
	Score   float64  `json:"score"`
	Matched []string `json:"matched"`
	Top     string   `json:"top_rule,omitempty"`
	Version int      `json:"rules_version"`
	Cached  bool     `json:"cached"`
}

// Engine scores attributes against the current registry.
type Engine struct {
	rules   atomic.Pointer[Registry]
	config  *Config
	scratch sync.Pool // map[string]float64: per-evaluation weights of the matched rules
}

// NewEngine starts with the built-in rules.
func NewEngine(cfg *Config) *Engine {
	e := &Engine{config: cfg}
	e.rules.Store(NewRegistry(1, BuiltinRules()))
	e.scratch.New = func() any { return make(map[string]float64, 32) }
	return e
}

// Reload swaps in a new registry version and returns it.
func (e *Engine) Reload(rules []Rule) *Registry {
	next := NewRegistry(e.rules.Load().Version+1, rules)
	e.rules.Store(next)
	return next
}

// Registry returns the current registry.
func (e *Engine) Registry() *Registry { return e.rules.Load() }

// Evaluate scores the attributes of one request of a tenant.
func (e *Engine) Evaluate(tenant string, attrs map[string]string) Decision {
	reg := e.rules.Load()
	overrides := e.config.overrideTable()
	weights := e.scratch.Get().(map[string]float64)
	var matched []string
	score := 0.0
	seen := make(map[string]bool, 8) // attributes already counted in the current group
	for _, g := range reg.groups {
		seen = make(map[string]bool, 8)
		for i := range g.Rules {
			r := &g.Rules[i]
			if seen[r.Attr] || !r.Match(attrs) {
				continue
			}
			seen[r.Attr] = true
			w := r.Weight
			if o, ok := overrides[tenant+"/"+r.ID]; ok {
				w = o
			}
			weights[r.ID] = w
			score += w
			matched = append(matched, r.ID)
		}
	}
	top, best := "", 0.0
	for _, id := range matched {
		if weights[id] > best {
			top, best = id, weights[id]
		}
	}
	e.scratch.Put(weights)

	th := e.config.Thresholds()
	outcome := "allow"
	switch {
	case score >= th["deny"]:
		outcome = "deny"
	case score >= th["review"]:
		outcome = "review"
	}
	if matched == nil {
		matched = []string{}
	}
	return Decision{Outcome: outcome, Score: score, Matched: matched, Top: top, Version: reg.Version}
}

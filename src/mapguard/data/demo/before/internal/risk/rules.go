// Package risk evaluates risk rules against the attributes of a request and serves the
// resulting decisions over HTTP.
package risk

import (
	"strconv"
	"strings"
)

// Op is a comparison operator of a rule.
type Op string

const (
	OpEq     Op = "eq"
	OpNe     Op = "ne"
	OpGt     Op = "gt"
	OpLt     Op = "lt"
	OpIn     Op = "in"
	OpPrefix Op = "prefix"
)

// Rule adds Weight to the score when attribute Attr satisfies Op against Value (or Values).
// Rules of one group that test the same attribute count at most once per request.
type Rule struct {
	ID     string   `json:"id"`
	Group  string   `json:"group"`
	Attr   string   `json:"attr"`
	Op     Op       `json:"op"`
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
	Weight float64  `json:"weight"`
}

// Match reports whether the rule holds for the attributes.
func (r *Rule) Match(attrs map[string]string) bool {
	v, ok := attrs[r.Attr]
	if !ok {
		return false
	}
	switch r.Op {
	case OpEq:
		return v == r.Value
	case OpNe:
		return v != r.Value
	case OpPrefix:
		return strings.HasPrefix(v, r.Value)
	case OpIn:
		for _, want := range r.Values {
			if v == want {
				return true
			}
		}
		return false
	case OpGt, OpLt:
		x, err1 := strconv.ParseFloat(v, 64)
		y, err2 := strconv.ParseFloat(r.Value, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Op == OpGt {
			return x > y
		}
		return x < y
	}
	return false
}

// Group is an ordered list of rules evaluated together.
type Group struct {
	Name  string
	Rules []Rule
}

// Registry is an immutable compiled rule set; a reload builds a new one and swaps it in.
type Registry struct {
	Version int
	groups  []Group
	byID    map[string]*Rule
}

// NewRegistry groups the rules, keeping the order in which groups first appear.
func NewRegistry(version int, rules []Rule) *Registry {
	byGroup := make(map[string][]Rule, 8)
	var order []string
	for _, r := range rules {
		if _, ok := byGroup[r.Group]; !ok {
			order = append(order, r.Group)
		}
		byGroup[r.Group] = append(byGroup[r.Group], r)
	}
	reg := &Registry{Version: version, byID: make(map[string]*Rule, len(rules))}
	for _, name := range order {
		reg.groups = append(reg.groups, Group{Name: name, Rules: byGroup[name]})
	}
	for gi := range reg.groups {
		for ri := range reg.groups[gi].Rules {
			r := &reg.groups[gi].Rules[ri]
			reg.byID[r.ID] = r
		}
	}
	return reg
}

// Rule returns a rule by ID.
func (reg *Registry) Rule(id string) (*Rule, bool) {
	r, ok := reg.byID[id]
	return r, ok
}

// Len is the number of rules.
func (reg *Registry) Len() int { return len(reg.byID) }

// BuiltinRules is the default policy.
func BuiltinRules() []Rule {
	return []Rule{
		{ID: "amount_high", Group: "payment", Attr: "amount", Op: OpGt, Value: "1000", Weight: 0.4},
		{ID: "amount_very_high", Group: "payment", Attr: "amount", Op: OpGt, Value: "5000", Weight: 0.6},
		{ID: "currency_exotic", Group: "payment", Attr: "currency", Op: OpIn, Values: []string{"XMR", "BTC", "ZWL"}, Weight: 0.3},
		{ID: "card_prepaid", Group: "payment", Attr: "card_type", Op: OpEq, Value: "prepaid", Weight: 0.2},
		{ID: "geo_high_risk", Group: "geo", Attr: "country_risk", Op: OpGt, Value: "0.7", Weight: 0.5},
		{ID: "geo_proxy", Group: "geo", Attr: "ip_reputation", Op: OpEq, Value: "proxy", Weight: 0.35},
		{ID: "geo_tor", Group: "geo", Attr: "ip_reputation", Op: OpEq, Value: "tor", Weight: 0.7},
		{ID: "device_new", Group: "device", Attr: "device_age_days", Op: OpLt, Value: "2", Weight: 0.25},
		{ID: "device_emulator", Group: "device", Attr: "device", Op: OpPrefix, Value: "emulator", Weight: 0.8},
		{ID: "account_young", Group: "account", Attr: "account_age_days", Op: OpLt, Value: "7", Weight: 0.3},
		{ID: "account_many_cards", Group: "account", Attr: "cards_30d", Op: OpGt, Value: "3", Weight: 0.35},
		{ID: "velocity_burst", Group: "velocity", Attr: "tx_1h", Op: OpGt, Value: "10", Weight: 0.45},
		{ID: "velocity_night", Group: "velocity", Attr: "hour", Op: OpLt, Value: "5", Weight: 0.1},
	}
}

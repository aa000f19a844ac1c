package risk

import (
	"encoding/json"
	"fmt"
	"log"
	"maps"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	CacheTTL  time.Duration
	CacheSize int
	Logger    *log.Logger
}

// Server is the HTTP front of the engine.
type Server struct {
	engine      *Engine
	config      *Config
	cache       *Cache
	stats       *Stats
	logger      *log.Logger
	countryRisk func() map[string]float64
	nextID      atomic.Uint64

	mu       sync.Mutex // guards feedback
	feedback map[string]string
}

// NewServer wires a server with the built-in rules.
func NewServer(opts Options) *Server {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 30 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.Logger == nil {
		opts.Logger = log.Default()
	}
	cfg := NewConfig()
	return &Server{
		engine:      NewEngine(cfg),
		config:      cfg,
		cache:       NewCache(opts.CacheTTL, opts.CacheSize),
		stats:       NewStats(time.Now()),
		logger:      opts.Logger,
		countryRisk: sync.OnceValue(loadCountryRisk),
		feedback:    make(map[string]string),
	}
}

// Handler routes the service's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /decide", s.handleDecide)
	mux.HandleFunc("POST /feedback", s.handleFeedback)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /stats", s.handleStats)
	mux.HandleFunc("POST /admin/thresholds", s.handleThresholds)
	mux.HandleFunc("POST /admin/override", s.handleOverride)
	mux.HandleFunc("POST /admin/reload", s.handleReload)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return withTenantAdmin(mux, s.logger)
}

// DecideRequest is the body of POST /decide.
type DecideRequest struct {
	Tenant     string         `json:"tenant"`
	Subject    string         `json:"subject"`
	Attributes map[string]any `json:"attributes"`
}

// loadCountryRisk returns the risk score per ISO country code.
func loadCountryRisk() map[string]float64 {
	return map[string]float64{
		"DE": 0.1, "FR": 0.1, "US": 0.2, "GB": 0.15, "BR": 0.5, "NG": 0.8, "RU": 0.75,
		"KP": 0.95, "IR": 0.9, "IN": 0.4, "CN": 0.45, "XX": 0.99,
	}
}

func (s *Server) handleDecide(w http.ResponseWriter, r *http.Request) {
	var req DecideRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.Tenant == "" {
		http.Error(w, "bad request: tenant is required", http.StatusBadRequest)
		return
	}
	attrs := make(map[string]string, len(req.Attributes)+1)
	for k, v := range req.Attributes {
		attrs[strings.ToLower(k)] = fmt.Sprint(v)
	}
	if c, ok := attrs["country"]; ok {
		if risk, known := s.countryRisk()[strings.ToUpper(c)]; known {
			attrs["country_risk"] = strconv.FormatFloat(risk, 'f', 2, 64)
		}
	}

	now := time.Now()
	key := cacheKey{tenant: req.Tenant, subject: req.Subject, fingerprint: fingerprint(attrs)}
	d, hit := s.cache.Get(key, now)
	if hit {
		d.Cached = true
	} else {
		d = s.engine.Evaluate(req.Tenant, attrs)
		s.cache.Put(key, d, now)
	}
	d.ID = "d-" + strconv.FormatUint(s.nextID.Add(1), 10)
	s.stats.Record(req.Tenant, d.Outcome)
	writeJSON(w, http.StatusOK, d)
}

// Feedback labels a past decision (chargeback, confirmed fraud, false positive).
type Feedback struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

func (s *Server) handleFeedback(w http.ResponseWriter, r *http.Request) {
	var fb Feedback
	if err := json.NewDecoder(r.Body).Decode(&fb); err != nil || fb.ID == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.feedback[fb.ID] = fb.Label
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "rules": s.engine.Registry().Len()})
}

// statsUnits names the unit of each /stats field; built once, when the package starts.
var statsUnits = map[string]string{"uptime_seconds": "seconds", "cache_size": "entries", "feedback": "labels"}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	snap := s.stats.snapshot(time.Now())
	snap.Units = maps.Clone(statsUnits) // this response's own copy: the table stays as built
	snap.Units["cache_size"] = fmt.Sprintf("entries (at most %d)", s.cache.max)
	snap.CacheHits, snap.CacheMisses, snap.CacheSize = s.cache.Counts()
	snap.RulesVersion = s.engine.Registry().Version
	s.mu.Lock()
	snap.Feedback = len(s.feedback)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, snap)
}

func (s *Server) handleThresholds(w http.ResponseWriter, r *http.Request) {
	var th struct {
		Review float64 `json:"review"`
		Deny   float64 `json:"deny"`
	}
	if err := json.NewDecoder(r.Body).Decode(&th); err != nil || th.Review <= 0 || th.Deny < th.Review {
		http.Error(w, "bad request: need 0 < review <= deny", http.StatusBadRequest)
		return
	}
	s.config.SetThresholds(th.Review, th.Deny)
	s.cache.Invalidate()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleOverride(w http.ResponseWriter, r *http.Request) {
	var ov struct {
		Tenant string  `json:"tenant"`
		Rule   string  `json:"rule"`
		Weight float64 `json:"weight"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ov); err != nil || ov.Tenant == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if _, ok := s.engine.Registry().Rule(ov.Rule); !ok {
		http.Error(w, "unknown rule", http.StatusNotFound)
		return
	}
	s.config.SetOverride(ov.Tenant, ov.Rule, ov.Weight)
	s.cache.Invalidate()
	w.WriteHeader(http.StatusNoContent)
}

var (
	reloadsMu sync.Mutex // guards reloads
	// reloads counts the reloads each client (by User-Agent) has asked for, for the log.
	reloads = map[string]int{}
)

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	reg := s.engine.Reload(BuiltinRules())
	s.cache.Invalidate()
	client := r.UserAgent()
	reloadsMu.Lock()
	reloads[client]++
	n := reloads[client]
	reloadsMu.Unlock()
	s.logger.Printf("rules reloaded by %q (%d so far): version %d, %d rules", client, n, reg.Version, reg.Len())
	writeJSON(w, http.StatusOK, map[string]int{"rules_version": reg.Version})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package risk

import (
	"context"
	"encoding/json"
	"log"
	"maps"
	"net/http"
	"sync"
	"time"
)

// Tenant is a tenant's settings as the control plane last sent them.
type Tenant struct {
	Name   string
	Labels map[string]string
}

// Clone returns a copy of the tenant with labels of its own.
func (t *Tenant) Clone() *Tenant {
	labels := make(map[string]string, len(t.Labels))
	for k, v := range t.Labels {
		labels[k] = v
	}
	return &Tenant{Name: t.Name, Labels: labels}
}

// tenantLister hands out the tenants a control-plane watcher caches. Like a client-go lister,
// it returns the cache's own objects: every request that reads a tenant gets the same one.
type tenantLister struct {
	mu      sync.RWMutex
	tenants map[string]*Tenant
}

// Get returns the cached tenant called name.
func (l *tenantLister) Get(name string) (*Tenant, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	t, ok := l.tenants[name]
	return t, ok
}

// auditEntry is one line of the admin audit log.
type auditEntry struct {
	Action string
	Labels map[string]string
}

// tenantAdmin serves /admin/tenant: it shows a tenant, marks it as read, and records an audit
// entry that a background writer logs.
type tenantAdmin struct {
	tenantLister *tenantLister
	audit        chan auditEntry
	logger       *log.Logger
}

// withTenantAdmin adds GET /admin/tenant to the service's routes.
func withTenantAdmin(mux *http.ServeMux, logger *log.Logger) http.Handler {
	mux.HandleFunc("GET /admin/tenant", newTenantAdmin(logger).handle)
	return mux
}

func newTenantAdmin(logger *log.Logger) *tenantAdmin {
	a := &tenantAdmin{
		tenantLister: &tenantLister{tenants: map[string]*Tenant{
			"acme": {Name: "acme", Labels: map[string]string{"tier": "gold"}},
		}},
		audit:  make(chan auditEntry, 64),
		logger: logger,
	}
	go a.writeAudit()
	return a
}

// writeAudit logs the audit entries as they come.
func (a *tenantAdmin) writeAudit() {
	for entry := range a.audit {
		a.logger.Printf("audit: %s %v", entry.Action, entry.Labels)
	}
}

type requestMetaKey struct{}

// withRequestMeta returns a context whose request metadata (the request's log lines print it)
// holds key=value as well: a copy, so the parent context's map stays as it was.
func withRequestMeta(ctx context.Context, key, value string) context.Context {
	meta, _ := ctx.Value(requestMetaKey{}).(map[string]string)
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[key] = value
	return context.WithValue(ctx, requestMetaKey{}, meta)
}

// handle is GET /admin/tenant?tenant=NAME.
func (a *tenantAdmin) handle(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("tenant")
	ctx := withRequestMeta(r.Context(), "tenant", name)
	ctx = withRequestMeta(ctx, "admin", r.Header.Get("X-Admin"))
	t, ok := a.tenantLister.Get(name)
	if !ok {
		http.NotFound(w, r.WithContext(ctx))
		return
	}
	t = t.Clone() // the lister's object is the cache's: write a copy
	t.Labels["last_admin_read"] = time.Now().UTC().Format(time.RFC3339)
	labels := map[string]string{"tenant": name, "admin": r.Header.Get("X-Admin")}
	a.audit <- auditEntry{Action: "read", Labels: labels}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(t)
}

package annotator

import (
	"context"
	"testing"
)

// The API server: everything is accepted and dropped.
type nopSink struct{}

func (nopSink) ApplyConfigMap(context.Context, *ConfigMap) error  { return nil }
func (nopSink) Record(context.Context, *Pod) error                { return nil }
func (nopSink) UpdatePod(context.Context, *Pod) error             { return nil }
func (nopSink) UpdateService(context.Context, *Service) error     { return nil }
func (nopSink) UpdateNamespace(context.Context, *Namespace) error { return nil }

func meta(ns, name string) ObjectMeta {
	return ObjectMeta{
		Name: name, Namespace: ns, ResourceVersion: "17",
		Labels:      map[string]string{"app": "shop"},
		Annotations: map[string]string{lastAppliedKey: "{}"},
	}
}

// newFactory fills fresh informer caches (fresh maps) for one round.
func newFactory() *InformerFactory {
	f := &InformerFactory{Pods: NewIndexer(), ConfigMaps: NewIndexer(), Services: NewIndexer(), Namespaces: NewIndexer()}
	_ = f.Pods.Add(&Pod{ObjectMeta: meta("shop", "cart-0"), NodeName: "node-1"})
	_ = f.Pods.Add(&Pod{ObjectMeta: meta("shop", "cart-1"), NodeName: "node-2"})
	_ = f.ConfigMaps.Add(&ConfigMap{ObjectMeta: meta("shop", "cart-config"), Data: map[string]string{"currency": "EUR"}})
	_ = f.Services.Add(&Service{ObjectMeta: meta("shop", "cart"), ClusterIP: "10.0.0.7"})
	_ = f.Namespaces.Add(&Namespace{ObjectMeta: meta("", "shop")})
	return f
}

func count(maps ...map[string]string) int {
	n := 0
	for _, m := range maps {
		for range m {
			n++
		}
	}
	return n
}

// informerReads is what the informers' indexers and every other controller sharing the
// factory do: read every map of every cached object.
func informerReads(f *InformerFactory) int {
	n := 0
	for _, indexer := range []Indexer{f.Pods, f.ConfigMaps, f.Services, f.Namespaces} {
		for _, obj := range indexer.List() {
			switch o := obj.(type) {
			case *Pod:
				n += count(o.Labels, o.Annotations)
			case *ConfigMap:
				n += count(o.Labels, o.Annotations, o.Data)
			case *Service:
				n += count(o.Labels, o.Annotations)
			case *Namespace:
				n += count(o.Labels, o.Annotations)
			}
		}
	}
	return n
}

// whileInformerReads runs one derivation against a fresh cache while the informers read it.
func whileInformerReads(t *testing.T, run func(ctx context.Context, c *Controller) error) {
	for round := 0; round < 10; round++ {
		f := newFactory()
		c := NewController(nopSink{}, f, "v1.4.2")
		raceHammer(2, func(g int) {
			if g == 0 {
				if err := run(context.Background(), c); err != nil {
					t.Error(err)
				}
				return
			}
			_ = informerReads(f)
		})
	}
}

func TestRaceEnvConfigMap(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.envConfigMap(ctx, "shop", "cart-0")
	})
}

func TestRaceAuditSnapshot(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.auditSnapshot(ctx, "shop", "cart-0")
	})
}

func TestRaceLabelPod(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.labelPod(ctx, "shop", "cart-0")
	})
}

func TestRaceExposeService(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.exposeService(ctx, "shop", "cart", "cart.shop.example.com")
	})
}

func TestRaceEndpointsMeta(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		_, err := c.endpointsMeta("shop", "cart", "2024-05-01T10:00:00Z")
		return err
	})
}

func TestRaceEnableInjection(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.enableInjection(ctx, "shop")
	})
}

func TestRaceAdoptPod(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.adoptPod(ctx, "shop", "cart-1")
	})
}

func TestRaceRenderConfigs(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.renderConfigs(ctx, "shop", "shop")
	})
}

func TestRaceTemplates(t *testing.T) {
	whileInformerReads(t, func(ctx context.Context, c *Controller) error {
		_, err := c.templates()
		return err
	})
}

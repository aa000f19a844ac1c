package labelsync

import (
	"context"
	"testing"
)

// The API server: updates are accepted and dropped.
type nopClient struct{}

func (nopClient) UpdatePod(context.Context, *Pod) error             { return nil }
func (nopClient) UpdateConfigMap(context.Context, *ConfigMap) error { return nil }
func (nopClient) UpdateService(context.Context, *Service) error     { return nil }
func (nopClient) UpdateNode(context.Context, *Node) error           { return nil }

// cluster is one informer cache, filled with fresh objects (fresh maps) for every round.
type cluster struct {
	pods, configMaps, services, nodes Indexer
	c                                 *Controller
}

func newCluster() cluster {
	k := cluster{
		pods:       NewIndexer(Indexers{}),
		configMaps: NewIndexer(Indexers{}),
		services:   NewIndexer(Indexers{}),
		nodes:      NewIndexer(Indexers{}),
	}
	for _, name := range []string{"frontend-0", "frontend-1"} {
		_ = k.pods.Add(&Pod{
			ObjectMeta: ObjectMeta{
				Name: name, Namespace: "web",
				Labels: map[string]string{
					teamLabel: "checkout", "app": "frontend",
					"example.com/legacy-team": "shop", "example.com/migrated": "true",
				},
				Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "x"},
			},
			Spec: PodSpec{NodeName: "node-1", NodeSelector: map[string]string{"kubernetes.io/os": "linux"}},
		})
	}
	_ = k.configMaps.Add(&ConfigMap{
		ObjectMeta: ObjectMeta{
			Name: "settings", Namespace: "web",
			Labels:      map[string]string{"app": "frontend"},
			Annotations: map[string]string{resetAnnotation: "true"},
		},
		Data: map[string]string{"log-level": "debug"},
	})
	_ = k.services.Add(&Service{
		ObjectMeta: ObjectMeta{Name: "frontend", Namespace: "web", Labels: map[string]string{},
			Annotations: map[string]string{}},
		Spec: ServiceSpec{Selector: map[string]string{"app": "frontend"}},
	})
	_ = k.nodes.Add(&Node{ObjectMeta: ObjectMeta{Name: "node-1",
		Labels: map[string]string{zoneLabel: "eu-west-1a"}, Annotations: map[string]string{}}})
	k.c = NewController(nopClient{}, k.pods, k.configMaps, k.services, k.nodes, "payments")
	return k
}

func readMaps(meta *ObjectMeta, more ...map[string]string) int {
	n := 0
	for range meta.Labels {
		n++
	}
	for range meta.Annotations {
		n++
	}
	for _, m := range more {
		for range m {
			n++
		}
	}
	return n
}

// informerReads is what the informer's goroutine and other controllers sharing the cache do:
// read every map of every cached object.
func (k cluster) informerReads() int {
	n := 0
	for _, obj := range k.pods.List() {
		pod := obj.(*Pod)
		n += readMaps(&pod.ObjectMeta, pod.Spec.NodeSelector)
	}
	for _, obj := range k.configMaps.List() {
		cm := obj.(*ConfigMap)
		n += readMaps(&cm.ObjectMeta, cm.Data)
	}
	for _, obj := range k.services.List() {
		svc := obj.(*Service)
		n += readMaps(&svc.ObjectMeta, svc.Spec.Selector)
	}
	for _, obj := range k.nodes.List() {
		n += readMaps(&obj.(*Node).ObjectMeta)
	}
	return n
}

// syncWhileInformerReads runs one sync against a fresh cache while the informer reads it.
func syncWhileInformerReads(t *testing.T, sync func(ctx context.Context, c *Controller) error) {
	for round := 0; round < 10; round++ {
		k := newCluster()
		raceHammer(2, func(g int) {
			if g == 0 {
				if err := sync(context.Background(), k.c); err != nil {
					t.Error(err)
				}
				return
			}
			_ = k.informerReads()
		})
	}
}

func TestRaceSyncPod(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.syncPod(ctx, "web/frontend-0")
	})
}

func TestRacePinToZone(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.pinToZone(ctx, "web", "frontend-0", "eu-west-1a")
	})
}

func TestRacePruneStaleLabels(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.pruneStaleLabels(ctx, "web", "frontend-0")
	})
}

func TestRaceSyncConfigMap(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.syncConfigMap(ctx, "web/settings")
	})
}

func TestRaceFillDefaults(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.fillDefaults(ctx, "web", "settings")
	})
}

func TestRaceResetConfigMap(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.resetConfigMap(ctx, "web", "settings")
	})
}

func TestRaceSyncService(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.syncService(ctx, "web/frontend")
	})
}

func TestRaceSyncNode(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.syncNode(ctx, "node-1")
	})
}

func TestRaceMarkDraining(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.markDraining(ctx, "node-1")
	})
}

func TestRaceHandOver(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.handOver(ctx, "checkout", "payments")
	})
}

func TestRaceClaimNamespace(t *testing.T) {
	syncWhileInformerReads(t, func(ctx context.Context, c *Controller) error {
		return c.claimNamespace(ctx, "web", "team-payments")
	})
}

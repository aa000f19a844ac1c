package relabel

import (
	"context"
	"testing"
)

// apiServer answers every Get with a new object and drops updates.
type apiServer struct{}

func (apiServer) GetPod(_ context.Context, ns, name string) (*Pod, error) {
	return newPod(ns, name), nil
}
func (apiServer) UpdatePod(context.Context, *Pod) error             { return nil }
func (apiServer) UpdateConfigMap(context.Context, *ConfigMap) error { return nil }

func newPod(ns, name string) *Pod {
	return &Pod{
		ObjectMeta: ObjectMeta{
			Name: name, Namespace: ns, ResourceVersion: "42",
			Labels:      map[string]string{teamLabel: "checkout", "app": "frontend"},
			Annotations: map[string]string{},
		},
		Spec: PodSpec{NodeName: "node-1", NodeSelector: map[string]string{"kubernetes.io/os": "linux"}},
	}
}

type cluster struct {
	pods *sharedIndexInformer
	cms  Indexer
	c    *Controller
}

func newCluster() cluster {
	k := cluster{
		pods: NewSharedIndexInformer(Indexers{NodeNameIndex: IndexByNodeName}).(*sharedIndexInformer),
		cms:  &threadSafeStore{items: map[string]interface{}{}},
	}
	_ = k.pods.GetStore().Add(newPod("web", "frontend-0"))
	_ = k.pods.GetStore().Add(newPod("web", "frontend-1"))
	_ = k.cms.Add(&ConfigMap{
		ObjectMeta: ObjectMeta{Name: "settings", Namespace: "web", Labels: map[string]string{},
			Annotations: map[string]string{}},
		Data: map[string]string{revisionKey: "r1"},
	})
	k.c = NewController(apiServer{}, k.pods, k.cms, "v2.0.1")
	return k
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

// informerReads reads every map of every cached object, as the informer and the other
// controllers sharing the cache do.
func (k cluster) informerReads() int {
	n := 0
	for _, obj := range k.pods.GetStore().List() {
		pod := obj.(*Pod)
		n += count(pod.Labels, pod.Annotations, pod.Spec.NodeSelector)
	}
	for _, obj := range k.cms.List() {
		cm := obj.(*ConfigMap)
		n += count(cm.Labels, cm.Annotations, cm.Data)
	}
	return n
}

func (k cluster) pod(key string) *Pod {
	obj, _, _ := k.pods.GetStore().GetByKey(key)
	return obj.(*Pod)
}

// Every sync, twice at once, while the informer reads the cache.
func TestCleanSyncsOnCopies(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		k := newCluster()
		raceHammer(3, func(g int) {
			if g == 2 {
				for i := 0; i < 3; i++ {
					_ = k.informerReads()
				}
				return
			}
			check := func(err error) {
				if err != nil {
					t.Error(err)
				}
			}
			check(k.c.syncPod(ctx, "web", "frontend-0"))
			check(k.c.bumpRevision(ctx, "web", "settings", "r2"))
			check(k.c.handOver(ctx, "web", "payments"))
			check(k.c.pinToZone(ctx, "web", "frontend-1", "eu-west-1b"))
			check(k.c.claimPod(ctx, "web/frontend-0"))
			check(k.c.drainNode(ctx, "node-1"))
			_, err := k.c.auditSnapshot("web", "frontend-1")
			check(err)
			check(k.c.labelPod(ctx, "web", "frontend-0"))
			_, err = k.c.childMeta("web", "frontend-1")
			check(err)
		})
	}
}

// The event handlers, on every listener goroutine at once, while the informer reads.
func TestCleanHandlersOnCopies(t *testing.T) {
	for round := 0; round < 5; round++ {
		k := newCluster()
		old := newPod("web", "frontend-0")
		old.Labels[teamLabel] = "search"
		raceHammer(3, func(g int) {
			if g == 2 {
				_ = k.informerReads()
				return
			}
			for _, h := range k.pods.listeners() {
				h.OnAdd(k.pod("web/frontend-0"), false)
				h.OnUpdate(old, k.pod("web/frontend-0"))
			}
		})
		if len(k.c.pending) != 4 {
			t.Errorf("pending = %d, want 4", len(k.c.pending))
		}
	}
}

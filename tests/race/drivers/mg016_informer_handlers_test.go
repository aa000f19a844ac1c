package podwatch

import "testing"

// cluster is a pair of informers whose caches hold fresh objects (fresh maps) every round.
type cluster struct {
	pods, cms *sharedIndexInformer
	c         *Controller
	oldPod    *Pod
	oldCM     *ConfigMap
}

func newPod(name, rv string) *Pod {
	return &Pod{
		ObjectMeta: ObjectMeta{
			Name: name, Namespace: "web", ResourceVersion: rv,
			Labels:      map[string]string{"app": "frontend", stalePrefix + "probe": "1"},
			Annotations: map[string]string{claimAnnotation: "replica-a"},
		},
		Spec:   PodSpec{NodeName: "node-1", NodeSelector: map[string]string{"kubernetes.io/os": "linux"}},
		Status: PodStatus{Phase: "Running"},
	}
}

func newConfigMap(rv string, data map[string]string) *ConfigMap {
	return &ConfigMap{
		ObjectMeta: ObjectMeta{Name: "settings", Namespace: "web", ResourceVersion: rv,
			Labels: map[string]string{"app": "frontend"}, Annotations: map[string]string{}},
		Data: data,
	}
}

func newCluster() cluster {
	k := cluster{
		pods:   NewSharedIndexInformer(Indexers{NodeNameIndex: IndexByNodeName}).(*sharedIndexInformer),
		cms:    NewSharedIndexInformer(Indexers{}).(*sharedIndexInformer),
		oldPod: newPod("frontend-0", "41"),
		oldCM:  newConfigMap("7", map[string]string{"log-level": "info", "region": "eu"}),
	}
	_ = k.pods.GetStore().Add(newPod("frontend-0", "42"))
	_ = k.pods.GetStore().Add(newPod("frontend-1", "42"))
	_ = k.cms.GetStore().Add(newConfigMap("8", map[string]string{"log-level": "info"}))
	k.c = NewController(k.pods, k.cms, "replica-a")
	return k
}

func (k cluster) pod(key string) *Pod {
	obj, _, _ := k.pods.GetStore().GetByKey(key)
	return obj.(*Pod)
}

func (k cluster) configMap() *ConfigMap {
	obj, _, _ := k.cms.GetStore().GetByKey("web/settings")
	return obj.(*ConfigMap)
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

// informerReads is what the informer's indexer, the informer's other listeners and other
// controllers sharing the cache do: read every map of every cached object.
func (k cluster) informerReads() int {
	n := 0
	for _, obj := range k.pods.GetStore().List() {
		pod := obj.(*Pod)
		n += count(pod.Labels, pod.Annotations, pod.Spec.NodeSelector)
	}
	for _, obj := range k.cms.GetStore().List() {
		cm := obj.(*ConfigMap)
		n += count(cm.Labels, cm.Annotations, cm.Data)
	}
	return n
}

// whileInformerReads runs one event or sync against a fresh cache while the informer reads it.
func whileInformerReads(t *testing.T, run func(k cluster) error) {
	for round := 0; round < 10; round++ {
		k := newCluster()
		raceHammer(2, func(g int) {
			if g == 0 {
				if err := run(k); err != nil {
					t.Error(err)
				}
				return
			}
			_ = k.informerReads()
		})
	}
}

func TestRaceAddFunc(t *testing.T) {
	whileInformerReads(t, func(k cluster) error {
		for _, h := range k.pods.listeners() {
			h.OnAdd(k.pod("web/frontend-0"), false)
		}
		return nil
	})
}

func TestRaceUpdateFunc(t *testing.T) {
	whileInformerReads(t, func(k cluster) error {
		for _, h := range k.pods.listeners() {
			h.OnUpdate(k.oldPod, k.pod("web/frontend-0"))
		}
		return nil
	})
}

func TestRaceDeleteFunc(t *testing.T) {
	whileInformerReads(t, func(k cluster) error {
		for _, h := range k.pods.listeners() {
			h.OnDelete(k.pod("web/frontend-1"))
		}
		return nil
	})
}

func TestRaceConfigMapUpdateFunc(t *testing.T) {
	whileInformerReads(t, func(k cluster) error {
		for _, h := range k.cms.listeners() {
			h.OnUpdate(k.oldCM, k.configMap())
		}
		return nil
	})
}

func TestRaceSyncPod(t *testing.T) {
	whileInformerReads(t, func(k cluster) error { return k.c.syncPod("web/frontend-0") })
}

func TestRaceClaimPod(t *testing.T) {
	whileInformerReads(t, func(k cluster) error { return k.c.claimPod("web/frontend-0") })
}

func TestRaceDrainNode(t *testing.T) {
	whileInformerReads(t, func(k cluster) error { return k.c.drainNode("node-1") })
}

func TestRaceBumpRevision(t *testing.T) {
	whileInformerReads(t, func(k cluster) error { return k.c.bumpRevision("web/settings", "r2") })
}

func TestRaceResync(t *testing.T) {
	whileInformerReads(t, func(k cluster) error {
		k.c.resync()
		return nil
	})
}

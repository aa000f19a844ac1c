package podreport

import (
	"context"
	"testing"
)

// apiServer answers every List with new objects and drops updates.
type apiServer struct{}

func (apiServer) ListPods(_ context.Context, ns string) ([]*Pod, error) {
	return []*Pod{newPod(ns, "frontend-0", "checkout"), newPod(ns, "frontend-1", "checkout")}, nil
}
func (apiServer) UpdatePod(context.Context, *Pod) error        { return nil }
func (apiServer) ApplyService(context.Context, *Service) error { return nil }

func newPod(ns, name, team string) *Pod {
	return &Pod{
		ObjectMeta: ObjectMeta{
			Name: name, Namespace: ns, ResourceVersion: "42",
			Labels: map[string]string{teamLabel: team, appLabel: "frontend", hashLabel: "5d8f",
				managedByLabel: controllerName},
			Annotations: map[string]string{ownerAnnotation: "team-" + team},
		},
		Spec: PodSpec{NodeName: "node-1", NodeSelector: map[string]string{}},
	}
}

type cluster struct {
	pods *sharedIndexInformer
	c    *Controller
}

func newCluster() cluster {
	k := cluster{pods: NewSharedIndexInformer(Indexers{TeamIndex: IndexByTeam}).(*sharedIndexInformer)}
	_ = k.pods.GetStore().Add(newPod("web", "frontend-0", "checkout"))
	_ = k.pods.GetStore().Add(newPod("web", "frontend-1", "search"))
	k.c = NewController(apiServer{}, k.pods)
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

func (k cluster) informerReads() int {
	n := 0
	for _, obj := range k.pods.GetStore().List() {
		pod := obj.(*Pod)
		n += count(pod.Labels, pod.Annotations, pod.Spec.NodeSelector)
	}
	return n
}

func (k cluster) pod(key string) *Pod {
	obj, _, _ := k.pods.GetStore().GetByKey(key)
	return obj.(*Pod)
}

// Reports, services and selectors of its own, twice at once, while the informer reads.
func TestCleanReadOnlyAndFresh(t *testing.T) {
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
			_, err := k.c.teamReport("web")
			check(err)
			_, err = k.c.teamPods("checkout")
			check(err)
			_, err = k.c.desiredService("web", "frontend-0")
			check(err)
			_, err = k.c.siblingSelector("web", "frontend-1")
			check(err)
			_, err = k.c.auditTemplate("web", "frontend-0")
			check(err)
			check(k.c.labelLive(ctx, "web"))
		})
	}
}

// The handlers read the objects they are handed, on every listener goroutine at once.
func TestCleanHandlersRead(t *testing.T) {
	for round := 0; round < 5; round++ {
		k := newCluster()
		old := newPod("web", "frontend-0", "search")
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
		if len(k.c.queue) != 2 || len(k.c.changes) != 1 {
			t.Errorf("queue %v, changes %v", k.c.queue, k.c.changes)
		}
	}
}

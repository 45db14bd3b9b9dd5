package kubernetes

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// cacheSyncTimeout bounds the wait for the run's watches to list the namespace.
const cacheSyncTimeout = 30 * time.Second

// cache watches the run's pods and StatefulSets (one watch each, on the run's namespace
// alone), so that the many reads of a run — every instance's State each time its
// supervisor polls, every forwarded connection's pod — cost the API server nothing.
type cache struct {
	pods corelisters.PodNamespaceLister
	sets appslisters.StatefulSetNamespaceLister
	stop chan struct{}
}

// newCache starts the run's watches and waits until they have listed the namespace.
func (r *Runtime) newCache(ctx context.Context) (*cache, error) {
	f := informers.NewSharedInformerFactoryWithOptions(r.cs, 0, informers.WithNamespace(r.namespace))
	pods := f.Core().V1().Pods()
	sets := f.Apps().V1().StatefulSets()
	c := &cache{
		pods: pods.Lister().Pods(r.namespace),
		sets: sets.Lister().StatefulSets(r.namespace),
		stop: make(chan struct{}),
	}
	// Informer() registers each before Start, which starts only those registered.
	pods.Informer()
	sets.Informer()
	f.Start(c.stop)
	ctx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	f.WaitForCacheSync(ctx.Done())
	if !pods.Informer().HasSynced() || !sets.Informer().HasSynced() {
		close(c.stop)
		return nil, fmt.Errorf("watch the pods and StatefulSets of namespace %s: not listed within %s", r.namespace, cacheSyncTimeout)
	}
	return c, nil
}

// close ends the watches.
func (c *cache) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
}

// pod is the pod called name, or nil.
func (c *cache) pod(name string) (*corev1.Pod, error) {
	p, err := c.pods.Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return p, err
}

// set is the StatefulSet called name, or nil.
func (c *cache) set(name string) (*appsv1.StatefulSet, error) {
	s, err := c.sets.Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return s, err
}

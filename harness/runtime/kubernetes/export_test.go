package kubernetes

import (
	appsv1 "k8s.io/api/apps/v1"

	"github.com/faultline/faultline/harness/runtime"
)

// NewForTest is a Runtime with no cluster behind it, for the checks and object builders
// that need none.
func NewForTest(runID string, opts ...Option) *Runtime {
	o := options{runID: runID}
	for _, opt := range opts {
		opt(&o)
	}
	return &Runtime{runID: runID, namespace: NamespacePrefix + runID, opts: o,
		labels: map[string]string{LabelRun: runID}, instances: map[string]*Instance{}}
}

// StatefulSetForTest is the StatefulSet Start would create for spec, with the agent's
// image agentImage ("" for none, as for the Toxiproxy pod).
func (r *Runtime) StatefulSetForTest(spec runtime.Spec, image, clusterIP, agentImage string) *appsv1.StatefulSet {
	return r.statefulSet(spec, image, "Never", clusterIP, agentImage, "Never")
}

// ListenPortForTest is listenPort.
var ListenPortForTest = listenPort

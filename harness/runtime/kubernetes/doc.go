// Package kubernetes is the Kubernetes backend of runtime.Runtime: the instances of a run
// are pods on a real cluster, the user's own or the single-node one ci/kube.sh starts, and
// the run's Toxiproxy server is one more pod, so that the same links, faults, history
// and checks act there unchanged.
//
// What a run makes, all in one namespace of its own (faultline-<run id>, labelled with
// the run id, the owning process and its host, and reaped like docker's leftovers when
// that process is gone):
//   - per instance, a StatefulSet of one replica (a pod with a stable name, <instance>-0,
//     replaced by its controller when it dies: self-healing is the cluster's own), a
//     PersistentVolumeClaim from the cluster's default StorageClass (or the one
//     WithStorageClass names) mounted at /data as {{datadir}}, and a Service with one
//     port per declared port, whose ClusterIP is {{netaddr}};
//   - the run's Toxiproxy server as a pod of its own with a Service listing its slots.
//
// The harness reaches the cluster through port-forward on loopback (the API server's
// pods/portforward, as kubectl does): every instance's HostAddr and every proxy is a
// listener on 127.0.0.1 that forwards each connection to the pod ready behind it at that
// moment, so it stays put across the pod's replacements. Nothing else leaves the process.
//
// Images: an Artifact.Image is the user's, pulled by the cluster as usual. An
// Artifact.Binary is packed into a one-layer image (harness/ociimage) and imported into
// the node by the command WithImageImport (or FAULTLINE_KUBE_IMPORT) names, which reads
// the image tar on its standard input: that needs a cluster whose node is yours.
//
// Faults: Kill deletes the pod with no grace (the kubelet still gives its containers its
// minimum of two seconds, as it does for every forced delete), Stop deletes it with the
// timeout as its grace, and both return once the pod is gone; the controller then brings
// up the next one (runtime.SelfHealing). HoldDown scales the StatefulSet to zero first,
// so that the instance stays down until Start. Pause and network disconnect have no
// Kubernetes API: they return runtime.ErrUnsupported, and faults on the links
// (fault.Refuse, fault.BlackHole, partitions) do what they would.
//
// It imports runtime, ociimage and client-go; like the other backends it must never import
// the harness root, fault, netfault or anything above them.
package kubernetes

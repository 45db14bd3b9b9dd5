//go:build tools

// Package build pins the Kubernetes commands ci/kube.sh builds for the single-node
// cluster the kubernetes runtime's tests run on. It is a module of its own so that the
// Kubernetes graph never enters faultline's go.mod.
package build

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

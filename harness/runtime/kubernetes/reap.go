package kubernetes

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Reap deletes the namespaces of runs whose harness process is gone: those labelled
// with this host and a pid that no longer lives. A run on another host is never judged.
// It returns how many it deleted (without waiting for them to be gone).
func Reap(ctx context.Context, cs kubernetes.Interface, log *slog.Logger) (int, error) {
	hostname, _ := os.Hostname()
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: LabelRun})
	if err != nil {
		return 0, fmt.Errorf("list the namespaces of faultline runs: %w", err)
	}
	n := 0
	for _, ns := range list.Items {
		if ns.Labels[LabelHost] != labelValue(hostname) || ns.DeletionTimestamp != nil {
			continue
		}
		pid, err := strconv.Atoi(ns.Labels[LabelPID])
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		if err := startDelete(ctx, cs, ns.Name); err != nil {
			log.Warn("delete the namespace of a dead run", "namespace", ns.Name, "err", err)
			continue
		}
		log.Info("deleted the namespace of a dead run", "namespace", ns.Name, "pid", pid)
		n++
	}
	return n, nil
}

// alive says whether a process with pid exists on this host.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// CleanAll deletes every namespace labelled as a faultline run's on the cluster the
// options name, whatever run made it and whether or not its process lives, without
// waiting for them to be gone. It returns how many it deleted.
func CleanAll(ctx context.Context, opts ...Option) (int, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	_, cs, host, err := Client(o.kubeconfig, o.context)
	if err != nil {
		return 0, err
	}
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: LabelRun})
	if err != nil {
		return 0, fmt.Errorf("list the namespaces of faultline runs on %s: %w", host, err)
	}
	n := 0
	for _, ns := range list.Items {
		if ns.DeletionTimestamp != nil {
			continue
		}
		if err := startDelete(ctx, cs, ns.Name); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

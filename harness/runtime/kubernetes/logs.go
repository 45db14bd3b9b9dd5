package kubernetes

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// logFollower keeps what every container of one pod name has written, across the pod's
// replacements and its container's restarts: a pod's logs go with the pod, and a
// replaced pod's last words (the line a stop signal made it write) are what a test reads.
type logFollower struct {
	rt     *Runtime
	pod    string
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	read map[string]int64 // bytes taken of each container (pod UID/restart count)
}

// newLogFollower starts following the logs of the pod called pod.
func newLogFollower(r *Runtime, pod string) *logFollower {
	ctx, cancel := context.WithCancel(context.Background())
	l := &logFollower{rt: r, pod: pod, cancel: cancel, done: make(chan struct{}), read: map[string]int64{}}
	go l.run(ctx)
	return l
}

// stop ends the following and waits for it.
func (l *logFollower) stop() {
	l.cancel()
	<-l.done
}

// bytes is a copy of what was written so far.
func (l *logFollower) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// container names the app container now in the pod and says whether it has run.
func container(pod *corev1.Pod) (key string, ran bool) {
	for _, c := range pod.Status.ContainerStatuses {
		if c.Name == appContainer {
			return fmt.Sprintf("%s/%d", pod.UID, c.RestartCount), c.State.Running != nil || c.State.Terminated != nil
		}
	}
	return "", false
}

func (l *logFollower) run(ctx context.Context) {
	defer close(l.done)
	finished := map[string]bool{}
	for ctx.Err() == nil {
		pod, err := l.rt.cache.pod(l.pod)
		key, ran := "", false
		if err == nil && pod != nil {
			key, ran = container(pod)
		}
		if !ran || finished[key] {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if l.follow(ctx, pod, key) {
			finished[key] = true
		}
	}
}

// follow streams one container's logs from where the last try stopped; true once the
// container has ended and everything it wrote is in.
func (l *logFollower) follow(ctx context.Context, pod *corev1.Pod, key string) bool {
	req := l.rt.cs.CoreV1().Pods(l.rt.namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: appContainer, Follow: true})
	stream, err := req.Stream(ctx)
	if err != nil {
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		return false
	}
	defer stream.Close()
	l.mu.Lock()
	skip := l.read[key]
	l.mu.Unlock()
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, stream, skip); err != nil {
			return false
		}
	}
	chunk := make([]byte, 32<<10)
	for {
		n, err := stream.Read(chunk)
		if n > 0 {
			l.mu.Lock()
			l.buf.Write(chunk[:n])
			l.read[key] += int64(n)
			l.mu.Unlock()
		}
		if err != nil {
			// The stream ends when the container does (or the pod is gone): judge by the pod.
			// Straight from the API: the watch may not have seen the container's end yet.
			now, gerr := l.rt.cs.CoreV1().Pods(l.rt.namespace).Get(context.WithoutCancel(ctx), pod.Name, metav1.GetOptions{})
			if gerr != nil || now.UID != pod.UID {
				return true
			}
			k, _ := container(now)
			return k != key || !running(now)
		}
	}
}

// running says whether the pod's app container runs.
func running(pod *corev1.Pod) bool {
	for _, c := range pod.Status.ContainerStatuses {
		if c.Name == appContainer {
			return c.State.Running != nil
		}
	}
	return false
}

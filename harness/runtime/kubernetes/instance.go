package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/kubernetes/agent"
)

// Instance is one pod of the run, under a StatefulSet of its own. It is safe for
// concurrent use.
type Instance struct {
	rt        *Runtime
	spec      runtime.Spec
	clusterIP string
	host      *forwarder // the main port, on loopback
	agent     *forwarder // the agent's port, on loopback; nil for the Toxiproxy pod
	logs      *logFollower

	mu    sync.Mutex
	ended map[string]bool // incarnations Kill or Stop ended
	held  bool            // HoldDown asked; the next Kill or Stop scales to zero
}

var (
	_ runtime.Instance    = (*Instance)(nil)
	_ runtime.PortAddrs   = (*Instance)(nil)
	_ runtime.Execer      = (*Instance)(nil)
	_ runtime.SelfHealing = (*Instance)(nil)
)

// start creates the instance's Service and StatefulSet and waits until its pod is ready.
func (r *Runtime) start(ctx context.Context, spec runtime.Spec) (*Instance, error) {
	image, pull, err := r.imageFor(ctx, spec.Artifact, spec.StopSignal)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	var agentImage string
	var agentPull corev1.PullPolicy
	if spec.Name != proxyName {
		if agentImage, agentPull, err = r.agentImage(ctx); err != nil {
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}
	svc, err := r.cs.CoreV1().Services(r.namespace).Create(ctx, r.service(spec.Name, spec.Service, servicePorts(spec)), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("start %s: create its Service: %w", spec.Name, err)
	}
	in := &Instance{rt: r, spec: spec, clusterIP: svc.Spec.ClusterIP, ended: map[string]bool{}}
	fail := func(err error) (*Instance, error) {
		in.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	in.host, err = r.forward(podName(spec.Name), spec.Port, true)
	if err != nil {
		return fail(fmt.Errorf("start %s: %w", spec.Name, err))
	}
	if agentImage != "" {
		if in.agent, err = r.forward(podName(spec.Name), agentPort(spec), false); err != nil {
			return fail(fmt.Errorf("start %s: %w", spec.Name, err))
		}
	}
	sts := r.statefulSet(spec, image, pull, in.clusterIP, agentImage, agentPull)
	if _, err := r.cs.AppsV1().StatefulSets(r.namespace).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		return fail(fmt.Errorf("start %s: create its StatefulSet: %w", spec.Name, err))
	}
	// The run's watch sees the new StatefulSet a moment after its create: until it does,
	// State would call the instance removed.
	if err := until(ctx, func() (bool, error) {
		set, err := r.cache.set(spec.Name)
		return set != nil, err
	}); err != nil {
		return fail(fmt.Errorf("start %s: its StatefulSet never showed in the run's watch: %w", spec.Name, err))
	}
	in.logs = newLogFollower(r, podName(spec.Name))
	if err := in.awaitReady(ctx); err != nil {
		return fail(fmt.Errorf("start %s: %w", spec.Name, err))
	}
	r.log.Info("instance started", "instance", spec.Name, "pod", podName(spec.Name), "netaddr", in.NetAddr(), "hostaddr", in.HostAddr())
	return in, nil
}

// remove deletes the instance's StatefulSet and Service (used when its start failed).
func (in *Instance) remove(ctx context.Context) {
	in.stopLogs()
	if in.host != nil {
		in.host.Close()
	}
	if in.agent != nil {
		in.agent.Close()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	_ = in.rt.cs.AppsV1().StatefulSets(in.rt.namespace).Delete(ctx, in.spec.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
	_ = in.rt.cs.CoreV1().Pods(in.rt.namespace).Delete(ctx, podName(in.spec.Name), metav1.DeleteOptions{GracePeriodSeconds: &zero})
	_ = in.rt.cs.CoreV1().Services(in.rt.namespace).Delete(ctx, in.spec.Name, metav1.DeleteOptions{})
}

func (in *Instance) stopLogs() {
	if in.logs != nil {
		in.logs.stop()
	}
}

// Name is the Spec's name.
func (in *Instance) Name() string { return in.spec.Name }

// Spec is the spec it was started from.
func (in *Instance) Spec() runtime.Spec { return in.spec }

// HostAddr is the loopback address whose connections are forwarded to the pod's main port.
func (in *Instance) HostAddr() string { return in.host.Addr() }

// NetAddr is the instance's Service: ClusterIP:Port, stable across its pod's replacements.
func (in *Instance) NetAddr() string { return fmt.Sprintf("%s:%d", in.clusterIP, in.spec.Port) }

// PortNetAddr is the Service's address for the port of Spec.Ports called name.
func (in *Instance) PortNetAddr(name string) (string, error) {
	for _, p := range in.spec.Ports {
		if p.Name == name {
			return fmt.Sprintf("%s:%d", in.clusterIP, p.Port), nil
		}
	}
	return "", in.spec.UnknownPort(name)
}

// pod reads the instance's pod from the run's watch; nil when there is none.
func (in *Instance) pod(ctx context.Context) (*corev1.Pod, error) {
	pod, err := in.rt.cache.pod(podName(in.spec.Name))
	if err != nil {
		return nil, fmt.Errorf("read pod %s: %w", podName(in.spec.Name), err)
	}
	return pod, nil
}

// started says whether the pod's program runs and has passed its startup probe.
func started(pod *corev1.Pod) bool {
	if pod == nil || pod.DeletionTimestamp != nil {
		return false
	}
	c := appStatus(pod)
	return c != nil && c.State.Running != nil && c.Started != nil && *c.Started
}

// incarnation names the run of the program the pod shows: the pod's UID and its app
// container's ID, which a replacement and an in-place restart both change. Empty while
// the container runs nothing.
func incarnation(pod *corev1.Pod) string {
	c := appStatus(pod)
	if c == nil || c.State.Running == nil || c.ContainerID == "" {
		return ""
	}
	return string(pod.UID) + "/" + c.ContainerID
}

// State is running while a pod that Kill or Stop did not end runs and has passed its
// startup probe, exited otherwise (none yet, starting, ending), removed once the
// StatefulSet is gone.
func (in *Instance) State(ctx context.Context) (runtime.State, error) {
	if set, err := in.rt.cache.set(in.spec.Name); err != nil {
		return "", fmt.Errorf("state of %s: %w", in.spec.Name, err)
	} else if set == nil || set.DeletionTimestamp != nil {
		return runtime.StateRemoved, nil
	}
	pod, err := in.pod(ctx)
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", in.spec.Name, err)
	}
	if !started(pod) || in.wasEnded(incarnation(pod)) {
		return runtime.StateExited, nil
	}
	return runtime.StateRunning, nil
}

func (in *Instance) wasEnded(inc string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ended[inc]
}

// Incarnation names the program now behind the instance (its pod's UID and container's
// ID); empty while none runs.
func (in *Instance) Incarnation(ctx context.Context) (string, error) {
	pod, err := in.pod(ctx)
	if err != nil || pod == nil || pod.DeletionTimestamp != nil {
		return "", err
	}
	inc := incarnation(pod)
	if in.wasEnded(inc) {
		return "", nil
	}
	return inc, nil
}

// HoldDown makes the next Kill or Stop scale the StatefulSet to zero first, so that no
// pod replaces the one it ends until Start.
func (in *Instance) HoldDown(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.held = true
	return nil
}

// scale sets the StatefulSet's replicas, by a merge patch: a read-then-update of its scale
// raced the controller's own status updates (a conflict right after a kill).
func (in *Instance) scale(ctx context.Context, n int32) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	if _, err := in.rt.cs.AppsV1().StatefulSets(in.rt.namespace).Patch(ctx, in.spec.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("scale %s to %d: %w", in.spec.Name, n, err)
	}
	return nil
}

// end deletes the pod now behind the instance with the given grace and waits until it is
// gone (within; 0 returns once the deletion is asked); with HoldDown asked, it scales the
// StatefulSet to zero first.
func (in *Instance) end(ctx context.Context, what string, grace int64, within time.Duration) error {
	pod, err := in.pod(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, in.spec.Name, err)
	}
	in.mu.Lock()
	held := in.held
	if inc := incarnation(pod); inc != "" {
		in.ended[inc] = true
	}
	in.mu.Unlock()
	if held {
		if err := in.scale(ctx, 0); err != nil {
			return fmt.Errorf("%s %s: %w", what, in.spec.Name, err)
		}
	}
	if pod == nil {
		return nil // no pod: already down
	}
	opts := metav1.DeleteOptions{GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &pod.UID}}
	err = in.rt.cs.CoreV1().Pods(in.rt.namespace).Delete(ctx, pod.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("%s %s: delete pod %s: %w", what, in.spec.Name, pod.Name, err)
	}
	if within == 0 {
		return nil
	}
	deadline := time.Now().Add(within)
	for {
		now, err := in.pod(ctx)
		if err == nil && (now == nil || now.UID != pod.UID) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s: pod %s still there after %s", what, in.spec.Name, pod.Name, within)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", what, in.spec.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill crashes the program as kill -9 does: the pod's agent SIGKILLs every process of its
// container. Kill returns once the kubelet has seen the container end; the kubelet then
// restarts it in place, in the same pod (runtime.SelfHealing), with the same address and
// volume. With HoldDown asked, the StatefulSet goes to zero and the pod is deleted too, so
// that nothing restarts it until Start.
func (in *Instance) Kill(ctx context.Context) error {
	pod, err := in.pod(ctx)
	if err != nil {
		return fmt.Errorf("kill %s: %w", in.spec.Name, err)
	}
	inc := incarnation(pod)
	if inc != "" && pod.DeletionTimestamp == nil {
		if err := in.crash(ctx); err != nil {
			return fmt.Errorf("kill %s: %w", in.spec.Name, err)
		}
		in.mu.Lock()
		in.ended[inc] = true
		in.mu.Unlock()
	}
	in.mu.Lock()
	held := in.held
	in.mu.Unlock()
	if held {
		// Deleted at once, before the kubelet can restart the program in place (it restarts
		// no container of a pod that is going); scaled to zero first, so that nothing
		// replaces it until Start. The pod's agent keeps its network up for a few seconds
		// after the program's end, so that its address refuses connections until the Service
		// stops routing there: the kubelet takes a pod's network down before the API forgets
		// the pod, and a connection sent to an address that has vanished is pinned there by
		// conntrack for as long as the connect retries (two minutes).
		if err := in.end(ctx, "kill", 10, 0); err != nil {
			return err
		}
		if pod != nil {
			if err := in.awaitUnrouted(ctx, pod.UID); err != nil {
				in.rt.log.Warn("kill: the Service still routes to the killed pod", "instance", in.spec.Name, "err", err)
			}
		}
		return nil
	}
	if inc == "" {
		return nil // nothing runs: already down
	}
	// Until the kubelet reports the crash, the watch still shows the container running.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := until(wctx, func() (bool, error) {
		now, err := in.pod(wctx)
		return err == nil && incarnation(now) != inc, err
	}); err != nil {
		return fmt.Errorf("kill %s: the kubelet did not report its container's end: %w", in.spec.Name, err)
	}
	return nil
}

// crashWithin bounds one kill through the agent, from the request to the processes' end.
const crashWithin = 20 * time.Second

// crash asks the pod's agent to SIGKILL the program's processes, and returns once they
// are gone. A connection the agent does not take (it starts with the pod) is tried again.
func (in *Instance) crash(ctx context.Context) error {
	if in.agent == nil {
		return errors.New("its pod has no agent to kill it")
	}
	ctx, cancel := context.WithTimeout(ctx, crashWithin)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+in.agent.Addr()+"/kill", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			var killed agent.Killed
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("the pod's agent could not kill it: %s: %s", resp.Status, bytes.TrimSpace(body))
			}
			_ = json.Unmarshal(body, &killed)
			in.rt.log.Debug("killed through the pod's agent", "instance", in.spec.Name, "processes", killed.Processes)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the pod's agent (container %s, port %d) did not answer: %w (last: %v); an image given with WithProxyImage must be a build of cmd/faultline-toxiproxy as new as the harness", agentContainer, agentPort(in.spec), ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop deletes the pod with timeout as its grace period (the kubelet sends the image's
// stop signal, then SIGKILL) and returns once it is gone.
func (in *Instance) Stop(ctx context.Context, timeout time.Duration) error {
	grace := int64(math.Ceil(timeout.Seconds()))
	if grace < 1 {
		grace = 1
	}
	return in.end(ctx, "stop", grace, timeout+30*time.Second)
}

// Start brings the instance back (the StatefulSet to one replica again, after HoldDown)
// and waits until its pod is ready; a running instance returns at once.
func (in *Instance) Start(ctx context.Context) error {
	in.mu.Lock()
	held := in.held
	in.held = false
	in.mu.Unlock()
	if held {
		if err := in.scale(ctx, 1); err != nil {
			return fmt.Errorf("start %s: %w", in.spec.Name, err)
		}
	}
	if err := in.awaitReady(ctx); err != nil {
		return fmt.Errorf("start %s: %w", in.spec.Name, err)
	}
	return nil
}

// awaitReady waits until State says running and the health check answers through
// HostAddr, within the spec's start timeout; the error tells what the pod showed last.
func (in *Instance) awaitReady(ctx context.Context) error {
	timeout := startTimeout(in.spec)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		st, err := in.State(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case st == runtime.StateRunning:
			if err := in.answers(ctx); err != nil {
				last = err.Error()
			} else if err := in.routed(ctx); err != nil {
				last = err.Error()
			} else {
				return nil
			}
		case st == runtime.StateRemoved:
			return fmt.Errorf("its StatefulSet is gone")
		default:
			last = in.describePod(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s: %s%s", timeout, last, in.logTail())
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// routed checks that the instance's Service routes to its pod now: its EndpointSlices
// list the pod's address as ready. Until they do, NetAddr leads nowhere (or to the pod
// it replaced).
func (in *Instance) routed(ctx context.Context) error {
	pod, err := in.pod(ctx)
	if err != nil || pod == nil {
		return fmt.Errorf("no pod: %v", err)
	}
	ready, _, err := in.endpoint(ctx, pod.UID)
	if err != nil {
		return err
	}
	if !ready {
		return fmt.Errorf("Service %s does not route to pod %s (%s) yet", in.spec.Name, pod.Name, pod.Status.PodIP)
	}
	return nil
}

// endpoint reads how the instance's Service lists the pod uid: ready (new connections go
// to it) and serving (they may still, while it terminates and no other is ready).
func (in *Instance) endpoint(ctx context.Context, uid types.UID) (ready, serving bool, err error) {
	list, err := in.rt.cs.DiscoveryV1().EndpointSlices(in.rt.namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + in.spec.Name})
	if err != nil {
		return false, false, fmt.Errorf("read the endpoints of Service %s: %w", in.spec.Name, err)
	}
	for _, sl := range list.Items {
		for _, ep := range sl.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.UID != uid {
				continue
			}
			ready = ready || ep.Conditions.Ready != nil && *ep.Conditions.Ready
			serving = serving || ep.Conditions.Serving != nil && *ep.Conditions.Serving
		}
	}
	return ready, serving || ready, nil
}

// unroutedWithin bounds the wait for a Service to stop routing to a dead pod.
const unroutedWithin = 10 * time.Second

// awaitUnrouted waits until no EndpointSlice of the instance's Service lists the pod uid
// as serving: kube-proxy then sends no new connection its way.
func (in *Instance) awaitUnrouted(ctx context.Context, uid types.UID) error {
	ctx, cancel := context.WithTimeout(ctx, unroutedWithin)
	defer cancel()
	return until(ctx, func() (bool, error) {
		_, serving, err := in.endpoint(ctx, uid)
		if err == nil && serving {
			err = fmt.Errorf("Service %s still routes to pod %s", in.spec.Name, uid)
		}
		return err == nil, err
	})
}

// answers checks the spec's health (or only a connection) through HostAddr.
func (in *Instance) answers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if in.spec.Health == "" {
		return in.host.dialCheck(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.HostAddr()+in.spec.Health, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return fmt.Errorf("GET %s through port-forward: %w", in.spec.Health, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", in.spec.Health, resp.StatusCode)
	}
	return nil
}

// describePod says in a line where the pod stands: its phase, its container's state and
// the newest event about it.
func (in *Instance) describePod(ctx context.Context) string {
	pod, err := in.pod(ctx)
	if err != nil {
		return err.Error()
	}
	if pod == nil {
		return "no pod yet"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s is %s", pod.Name, pod.Status.Phase)
	if c := appStatus(pod); c != nil {
		switch {
		case c.State.Waiting != nil:
			fmt.Fprintf(&b, ", container waiting (%s: %s)", c.State.Waiting.Reason, c.State.Waiting.Message)
		case c.State.Terminated != nil:
			fmt.Fprintf(&b, ", container terminated (%s, exit %d)", c.State.Terminated.Reason, c.State.Terminated.ExitCode)
		case c.State.Running != nil:
			b.WriteString(", container running, startup probe not passed yet")
		}
	}
	evs, err := in.rt.cs.CoreV1().Events(in.rt.namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod.Name})
	if err == nil && len(evs.Items) > 0 {
		e := evs.Items[len(evs.Items)-1]
		fmt.Fprintf(&b, "; last event: %s %s", e.Reason, e.Message)
	}
	return b.String()
}

// logTail is the end of the instance's logs, for an error.
func (in *Instance) logTail() string {
	if in.logs == nil {
		return ""
	}
	b := in.logs.bytes()
	if len(b) == 0 {
		return ""
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return "\nlast logs:\n" + string(b)
}

// Pause is not on this runtime: Kubernetes has no API that freezes a pod.
func (in *Instance) Pause(ctx context.Context) error {
	return fmt.Errorf("pause %s: Kubernetes has no API that freezes a pod (fault.BlackHole on its links hangs its connections instead): %w", in.spec.Name, runtime.ErrUnsupported)
}

// Resume is not on this runtime (see Pause).
func (in *Instance) Resume(ctx context.Context) error {
	return fmt.Errorf("resume %s: Kubernetes has no API that freezes a pod: %w", in.spec.Name, runtime.ErrUnsupported)
}

// Disconnect is not on this runtime: a pod cannot be taken off the cluster network
// through the API (a NetworkPolicy needs a CNI that enforces it).
func (in *Instance) Disconnect(ctx context.Context) error {
	return fmt.Errorf("disconnect %s: a pod cannot be taken off the cluster's network through the Kubernetes API: %w", in.spec.Name, runtime.ErrUnsupported)
}

// Reconnect is not on this runtime (see Disconnect).
func (in *Instance) Reconnect(ctx context.Context) error {
	return fmt.Errorf("reconnect %s: %w", in.spec.Name, runtime.ErrUnsupported)
}

// Logs returns what every pod of the instance has written so far, oldest first.
func (in *Instance) Logs(ctx context.Context) ([]byte, error) {
	if in.logs == nil {
		return nil, nil
	}
	return in.logs.bytes(), nil
}

// Exec runs cmd in the pod's container (placeholders replaced) and returns its exit code
// and output. It asks for a terminal: without one, the CRI exec stream drops what a
// command that exits at once wrote (a quarter of the time on containerd 1.6 and 2.4 alike;
// a plain exec through containerd's own API loses nothing), and a terminal's stream does
// not. Its output therefore holds stdout and stderr as one, with the terminal's "\r\n"
// turned back into "\n".
func (in *Instance) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	if len(cmd) == 0 {
		return 0, nil, errors.New("exec: the command is empty")
	}
	rep := replacer(in.spec, in.clusterIP)
	args := make([]string, len(cmd))
	for i, a := range cmd {
		args[i] = rep.Replace(a)
	}
	req := in.rt.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(in.rt.namespace).
		Name(podName(in.spec.Name)).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: appContainer, Command: args, Stdout: true, TTY: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(in.rt.cfg, http.MethodGet, req.URL().String())
	if err != nil {
		return 0, nil, fmt.Errorf("exec in %s: %w", in.spec.Name, err)
	}
	var out bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Tty: true})
	var code utilexec.CodeExitError
	switch {
	case err == nil:
		return 0, untty(out.Bytes()), nil
	case errors.As(err, &code):
		return code.ExitStatus(), untty(out.Bytes()), nil
	default:
		return 0, untty(out.Bytes()), fmt.Errorf("exec %q in %s: %w", strings.Join(args, " "), in.spec.Name, err)
	}
}

// untty turns a terminal's line ends back into plain ones.
func untty(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

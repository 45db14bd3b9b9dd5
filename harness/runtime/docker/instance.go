package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/harness/runtime"
)

// Instance is one container of the run. Its faults go through the Docker client, since
// testcontainers has no pause and reports a paused container as running.
type Instance struct {
	rt    *Runtime
	spec  runtime.Spec
	name  string // container name
	id    string // container id
	port  network.Port
	ctr   *testcontainers.DockerContainer
	ready wait.Strategy
	log   *slog.Logger

	mu       sync.Mutex
	hostAddr string
}

var (
	_ runtime.Instance  = (*Instance)(nil)
	_ runtime.PortAddrs = (*Instance)(nil)
	_ runtime.Execer    = (*Instance)(nil)
)

// Name is the Spec's name, which is also the instance's alias on the run's network.
func (i *Instance) Name() string { return i.spec.Name }

// Spec is the spec the instance was started from (with the default start timeout filled in).
func (i *Instance) Spec() runtime.Spec { return i.spec }

// ContainerID is the Docker id of the instance's container.
func (i *Instance) ContainerID() string { return i.id }

// String names the instance in errors and logs.
func (i *Instance) String() string { return i.spec.Name }

// HostAddr is 127.0.0.1 (or the override host) and the port Docker published for
// Spec.Port, as last read: after Start, Disconnect and Reconnect it is read again,
// because Docker may publish on another port. Empty when the Spec has no port.
func (i *Instance) HostAddr() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.hostAddr
}

// NetAddr is <Spec.Name>:<Spec.Port>, where the proxies and other instances reach it on
// the run's network.
func (i *Instance) NetAddr() string { return fmt.Sprintf("%s:%d", i.spec.Name, i.spec.Port) }

// PortNetAddr is <Spec.Name>:<port> of the port of Spec.Ports called name, where the
// proxies and other instances reach it on the run's network.
func (i *Instance) PortNetAddr(name string) (string, error) {
	for _, p := range i.spec.Ports {
		if p.Name == name {
			return fmt.Sprintf("%s:%d", i.spec.Name, p.Port), nil
		}
	}
	return "", i.spec.UnknownPort(name)
}

// Exec runs cmd inside the instance's container (placeholders replaced as the container
// sees them), as the container's user, and returns its exit code and output. The
// container's image must hold the program: a scratch image holds only its binary, /app.
func (i *Instance) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	if len(cmd) == 0 {
		return 0, nil, errors.New("exec: the command is empty: give the program and its arguments")
	}
	created, err := i.rt.api.ExecCreate(ctx, i.id, client.ExecCreateOptions{
		Cmd: replaceAll(cmd, i.spec), AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, nil, fmt.Errorf("exec in %s: %w", i, err)
	}
	att, err := i.rt.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, nil, fmt.Errorf("exec in %s: attach: %w", i, err)
	}
	var out bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &out, att.Reader)
	att.Close()
	if err != nil {
		return 0, out.Bytes(), fmt.Errorf("exec in %s: read its output: %w", i, err)
	}
	for {
		res, err := i.rt.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, out.Bytes(), fmt.Errorf("exec in %s: inspect: %w", i, err)
		}
		if !res.Running {
			return res.ExitCode, out.Bytes(), nil
		}
		select {
		case <-ctx.Done():
			return 0, out.Bytes(), fmt.Errorf("exec in %s: %w", i, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL (a paused container too) and returns once the container has
// exited. Docker treats it as a manual stop: nothing restarts it but Start. An instance
// that is not running is left as it is.
func (i *Instance) Kill(ctx context.Context) error {
	if running, err := i.running(ctx); err != nil || !running {
		return wrap("kill", i, err)
	}
	_, err := i.rt.api.ContainerKill(ctx, i.id, client.ContainerKillOptions{Signal: "KILL"})
	if err != nil && !cerrdefs.IsConflict(err) { // a conflict: it exited meanwhile
		return fmt.Errorf("kill %s: %w", i, err)
	}
	if err := i.waitExited(ctx); err != nil {
		return fmt.Errorf("kill %s: %w", i, err)
	}
	i.log.Debug("killed")
	return nil
}

// Stop sends SIGTERM (or the image's STOPSIGNAL; a paused container is thawed to get
// it) and waits up to timeout, rounded up to whole seconds (Docker's unit), for the
// container to exit, then kills it. An instance that is not running is left as it is.
func (i *Instance) Stop(ctx context.Context, timeout time.Duration) error {
	if running, err := i.running(ctx); err != nil || !running {
		return wrap("stop", i, err)
	}
	secs := int(math.Ceil(timeout.Seconds()))
	if secs < 0 {
		secs = 0
	}
	if _, err := i.rt.api.ContainerStop(ctx, i.id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", i, err)
	}
	if err := i.waitExited(ctx); err != nil {
		return fmt.Errorf("stop %s: %w", i, err)
	}
	i.log.Debug("stopped", "timeout", timeout)
	return nil
}

// Pause freezes the container (docker pause: the cgroup freezer); its connections stay
// open and callers hang until their own timeout. Pausing a paused instance does nothing.
func (i *Instance) Pause(ctx context.Context) error {
	st, err := i.inspectState(ctx)
	if err != nil {
		return fmt.Errorf("pause %s: %w", i, err)
	}
	switch {
	case st.Paused:
		return nil
	case !st.Running:
		return fmt.Errorf("pause %s: %w", i, runtime.ErrNotRunning)
	}
	if _, err := i.rt.api.ContainerPause(ctx, i.id, client.ContainerPauseOptions{}); err != nil {
		if cerrdefs.IsConflict(err) {
			err = fmt.Errorf("%w: %w", runtime.ErrNotRunning, err)
		}
		return fmt.Errorf("pause %s: %w", i, err)
	}
	i.log.Debug("paused")
	return nil
}

// Resume thaws a paused container. Resuming a running one does nothing.
func (i *Instance) Resume(ctx context.Context) error {
	st, err := i.inspectState(ctx)
	if err != nil {
		return fmt.Errorf("resume %s: %w", i, err)
	}
	switch {
	case !st.Running:
		return fmt.Errorf("resume %s: %w", i, runtime.ErrNotRunning)
	case !st.Paused:
		return nil
	}
	if _, err := i.rt.api.ContainerUnpause(ctx, i.id, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("resume %s: %w", i, err)
	}
	i.log.Debug("resumed")
	return nil
}

// Start starts the exited container again (same filesystem, so /data survives; same
// aliases), reads its published port again and waits until it is ready. It fails if
// the instance is still running (paused counts).
func (i *Instance) Start(ctx context.Context) error {
	st, err := i.inspectState(ctx)
	if err != nil {
		return fmt.Errorf("start %s: %w", i, err)
	}
	if st.Running {
		return fmt.Errorf("start %s: still running (paused: %v): kill or stop it first", i, st.Paused)
	}
	if _, err := i.rt.api.ContainerStart(ctx, i.id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", i, err)
	}
	if err := i.ready.WaitUntilReady(ctx, i.ctr); err != nil {
		err = fmt.Errorf("start %s: wait until ready: %w", i, err)
		if tail := i.rt.logTail(ctx, i.id); tail != "" {
			err = fmt.Errorf("%w\nlast log lines:\n%s", err, tail)
		}
		return err
	}
	if err := i.refresh(ctx); err != nil {
		return fmt.Errorf("start %s: %w", i, err)
	}
	i.log.Debug("started again", "host_addr", i.HostAddr())
	return nil
}

// Disconnect takes the container off the run's network (docker network disconnect,
// forced). It stays on the run's ports network, so it keeps running and its published
// port keeps answering, while its alias no longer resolves for the proxies.
// Disconnecting a disconnected instance does nothing.
func (i *Instance) Disconnect(ctx context.Context) error {
	connected, err := i.connected(ctx)
	if err != nil {
		return fmt.Errorf("disconnect %s: %w", i, err)
	}
	if connected {
		_, err := i.rt.api.NetworkDisconnect(ctx, i.rt.netID, client.NetworkDisconnectOptions{Container: i.id, Force: true})
		if err != nil {
			return fmt.Errorf("disconnect %s from %s: %w", i, i.rt.netName, err)
		}
	}
	if err := i.refresh(ctx); err != nil {
		return fmt.Errorf("disconnect %s: %w", i, err)
	}
	i.log.Debug("disconnected", "network", i.rt.netName, "host_addr", i.HostAddr())
	return nil
}

// Reconnect puts the container back on the run's network with its alias (without it,
// its name would no longer resolve). Reconnecting a connected instance does nothing.
func (i *Instance) Reconnect(ctx context.Context) error {
	connected, err := i.connected(ctx)
	if err != nil {
		return fmt.Errorf("reconnect %s: %w", i, err)
	}
	if !connected {
		_, err := i.rt.api.NetworkConnect(ctx, i.rt.netID, client.NetworkConnectOptions{
			Container:      i.id,
			EndpointConfig: &network.EndpointSettings{Aliases: []string{i.spec.Name}},
		})
		if err != nil {
			return fmt.Errorf("reconnect %s to %s: %w", i, i.rt.netName, err)
		}
	}
	if err := i.refresh(ctx); err != nil {
		return fmt.Errorf("reconnect %s: %w", i, err)
	}
	i.log.Debug("reconnected", "network", i.rt.netName, "host_addr", i.HostAddr())
	return nil
}

// State reports the container's state from docker inspect (paused is told apart from
// running, which testcontainers does not do).
func (i *Instance) State(ctx context.Context) (runtime.State, error) {
	res, err := i.rt.api.ContainerInspect(ctx, i.id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return runtime.StateRemoved, nil
	}
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", i, err)
	}
	st := res.Container.State
	switch {
	case st == nil:
		return "", fmt.Errorf("state of %s: docker inspect has no state", i)
	case st.Paused:
		return runtime.StatePaused, nil
	case st.Running:
		return runtime.StateRunning, nil
	default:
		return runtime.StateExited, nil
	}
}

// Logs returns what the container wrote to stdout and stderr, interleaved as written,
// across all its starts.
func (i *Instance) Logs(ctx context.Context) ([]byte, error) {
	b, err := containerLogs(ctx, i.rt.api, i.id, "all")
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", i, err)
	}
	return b, nil
}

// refresh reads the published port again.
func (i *Instance) refresh(ctx context.Context) error {
	if i.spec.Port == 0 {
		return nil
	}
	res, err := i.rt.api.ContainerInspect(ctx, i.id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	hp, ok := hostPort(res.Container, i.port)
	if !ok {
		if res.Container.State != nil && res.Container.State.Running {
			return fmt.Errorf("port %s is not published", i.port)
		}
		return nil // not running: keep the last address
	}
	i.mu.Lock()
	i.hostAddr = net.JoinHostPort(i.rt.host, hp)
	i.mu.Unlock()
	return nil
}

func (i *Instance) inspectState(ctx context.Context) (*container.State, error) {
	res, err := i.rt.api.ContainerInspect(ctx, i.id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if res.Container.State == nil {
		return nil, errors.New("docker inspect has no state")
	}
	return res.Container.State, nil
}

// running reports whether the container runs (paused counts).
func (i *Instance) running(ctx context.Context) (bool, error) {
	st, err := i.inspectState(ctx)
	if err != nil {
		return false, err
	}
	return st.Running, nil
}

// wrap names the operation and instance in err; nil stays nil.
func wrap(op string, i *Instance, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, i, err)
}

func (i *Instance) connected(ctx context.Context) (bool, error) {
	res, err := i.rt.api.ContainerInspect(ctx, i.id, client.ContainerInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("inspect: %w", err)
	}
	ns := res.Container.NetworkSettings
	if ns == nil {
		return false, nil
	}
	_, ok := ns.Networks[i.rt.netName]
	return ok, nil
}

// waitExited returns once the container is no longer running.
func (i *Instance) waitExited(ctx context.Context) error {
	w := i.rt.api.ContainerWait(ctx, i.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
		return nil
	case err := <-w.Error:
		return fmt.Errorf("wait for exit: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("wait for exit: %w", ctx.Err())
	}
}

// hostPort is the host port Docker published for port, if any.
func hostPort(c container.InspectResponse, port network.Port) (string, bool) {
	if c.NetworkSettings == nil {
		return "", false
	}
	for _, b := range c.NetworkSettings.Ports[port] {
		if b.HostPort != "" && b.HostPort != "0" {
			return b.HostPort, true
		}
	}
	return "", false
}

// containerLogs reads a container's stdout and stderr, demultiplexed, interleaved.
func containerLogs(ctx context.Context, api client.APIClient, id, tail string) ([]byte, error) {
	rc, err := api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.Bytes(), fmt.Errorf("read logs: %w", err)
	}
	return buf.Bytes(), nil
}

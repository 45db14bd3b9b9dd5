package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrUnsupported is returned by an operation a backend cannot do (a container network
// disconnect on the local backend, say). Callers branch on it to skip, never to pass.
var ErrUnsupported = errors.New("not supported by this runtime")

// ErrNotRunning is returned by an operation that needs a running instance.
var ErrNotRunning = errors.New("instance is not running")

// Placeholders that a Spec's Args and Env values may hold; the backend replaces them when
// it starts (and restarts) the instance, because only it knows where the instance lives.
const (
	// PlaceholderListen is the host:port the instance must bind: 127.0.0.1:<free port>
	// locally, 0.0.0.0:<Spec.Port> in a container.
	PlaceholderListen = "{{listen}}"
	// PlaceholderPort is the port part of PlaceholderListen.
	PlaceholderPort = "{{port}}"
	// PlaceholderNetAddr is where other instances and the proxies reach this one
	// (Instance.NetAddr): 127.0.0.1:<port> locally, <alias>:<Spec.Port> in a container.
	PlaceholderNetAddr = "{{netaddr}}"
	// PlaceholderDataDir is a directory of the instance's own that survives its restarts.
	PlaceholderDataDir = "{{datadir}}"
)

// ListenPlaceholder, PortPlaceholder and NetAddrPlaceholder are PlaceholderListen,
// PlaceholderPort and PlaceholderNetAddr for the port of Spec.Ports called name:
// "{{listen:peer}}", "{{port:peer}}", "{{netaddr:peer}}".
func ListenPlaceholder(name string) string { return "{{listen:" + name + "}}" }

// PortPlaceholder is PlaceholderPort for the port of Spec.Ports called name.
func PortPlaceholder(name string) string { return "{{port:" + name + "}}" }

// NetAddrPlaceholder is PlaceholderNetAddr for the port of Spec.Ports called name.
func NetAddrPlaceholder(name string) string { return "{{netaddr:" + name + "}}" }

// NamedPort is one further port of an instance (Spec.Ports).
type NamedPort struct {
	// Name names it among the instance's ports ("peer").
	Name string
	// Port is the port it listens on inside a container (locally the backend picks a
	// free one and hands it over through the placeholders).
	Port int
}

// PortAddrs is what an Instance whose Spec has Ports tells of them. Both backends'
// instances implement it; a backend whose instances do not cannot run a Spec with Ports.
type PortAddrs interface {
	// PortNetAddr is host:port where other instances and the proxies reach the port of
	// Spec.Ports called name (as NetAddr is for Spec.Port); an unknown name is an error.
	PortNetAddr(name string) (string, error)
}

// Artifact says what to run. Exactly one field is set.
type Artifact struct {
	// Binary is the path of a static executable. The local backend runs it as a child
	// process; the docker backend wraps it in a scratch image (built once per content hash).
	Binary string
	// Image is an image already in the local engine (docker backend only).
	Image string
	// Dockerfile is a build context directory holding a Dockerfile (docker backend only).
	Dockerfile string
}

// Spec describes one instance to start.
type Spec struct {
	// Name is unique in the run ("accounts-1"); it is also the instance's network alias.
	Name string
	// Service is the logical service the instance belongs to ("accounts").
	Service string
	// Artifact is what to run.
	Artifact Artifact
	// Args are the command-line arguments; placeholders are replaced.
	Args []string
	// Env is the environment; placeholders in values are replaced. The local backend
	// passes only these plus PATH and HOME, so no setting leaks in from the harness.
	Env map[string]string
	// Port is the port the instance listens on inside a container (the local backend
	// picks a free one instead and hands it over through the placeholders).
	Port int
	// Ports are the instance's further ports beside Port, each with a name of its own:
	// the docker backend publishes every one, the local backend picks a free port for
	// each. Args and Env reach them through ListenPlaceholder(name) and the others.
	Ports []NamedPort
	// Health is an HTTP path answered 200 when the instance is ready ("/healthz"). Empty
	// means: ready once the port accepts connections.
	Health string
	// StartTimeout bounds the wait for readiness (default 30 s).
	StartTimeout time.Duration
	// Entrypoint, when set, replaces the image's entrypoint (docker only: the local
	// backend refuses it, its program being the artifact itself).
	Entrypoint []string
	// User, when set, is the user the program runs as ("postgres", "1000:1000"): the
	// image's user on docker; locally a user of the machine, which needs root.
	User string
	// StopSignal is the signal a graceful stop sends (default SIGTERM), by name:
	// "SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP", "SIGUSR1" or "SIGUSR2".
	StopSignal string
}

// SpecChecker is a Runtime that can tell, before a system starts, whether it can run a
// spec at all (the fields it does not support), so that a bring-up fails before its
// first instance rather than half-way.
type SpecChecker interface {
	// Supports returns an error naming the field it cannot honour and what to do.
	Supports(spec Spec) error
}

// StopSignals are the signals Spec.StopSignal may name.
var StopSignals = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT,
	"SIGHUP": syscall.SIGHUP, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
}

// StopSignalNames lists StopSignals for a message.
func StopSignalNames() string {
	names := make([]string, 0, len(StopSignals))
	for n := range StopSignals {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// State is what a backend reports of an instance.
type State string

// The states an instance can be in.
const (
	StateRunning State = "running"
	StatePaused  State = "paused"
	StateExited  State = "exited"
	StateRemoved State = "removed"
)

// Instance is one started process or container.
type Instance interface {
	// Name is the Spec's name.
	Name() string
	// Spec is the spec it was started from.
	Spec() Spec
	// HostAddr is host:port where the harness process reaches the instance directly. It
	// may change after Start (a container's published port does): read it again after
	// every fault.
	HostAddr() string
	// NetAddr is host:port where other instances and the proxies reach it; stable for
	// the instance's life.
	NetAddr() string
	// Kill sends SIGKILL and returns once the instance has exited.
	Kill(ctx context.Context) error
	// Stop sends SIGTERM and waits for a graceful exit, killing it after timeout.
	Stop(ctx context.Context, timeout time.Duration) error
	// Pause freezes every process of the instance (SIGSTOP, docker pause); connections
	// stay open and hang.
	Pause(ctx context.Context) error
	// Resume thaws a paused instance.
	Resume(ctx context.Context) error
	// Start starts an exited instance again with the same spec, data and NetAddr, and
	// waits until it is ready.
	Start(ctx context.Context) error
	// Disconnect cuts the instance off the run's network (it stays running and keeps
	// its published port); ErrUnsupported where there is no such network.
	Disconnect(ctx context.Context) error
	// Reconnect undoes Disconnect, with the instance's aliases.
	Reconnect(ctx context.Context) error
	// State reports the instance's state now.
	State(ctx context.Context) (State, error)
	// Logs returns what the instance has written to stdout and stderr so far.
	Logs(ctx context.Context) ([]byte, error)
}

// SelfHealing is an Instance whose platform starts it again by itself when it dies: a
// pod that its controller replaces. Kill and Stop end the instance's current incarnation
// and return once it is gone; the platform then brings up the next one, which State
// reports running once it is ready, with no call to Start. Start waits for that next
// incarnation (and asks for it again after HoldDown). A supervisor records such a
// return as a restart, made by the platform.
type SelfHealing interface {
	// Incarnation names what now runs behind the instance (a pod's UID): it changes with
	// every replacement. Empty while no incarnation exists.
	Incarnation(ctx context.Context) (string, error)
	// HoldDown keeps the platform from bringing the instance back after it next ends
	// (a StatefulSet scaled to zero), until Start.
	HoldDown(ctx context.Context) error
}

// Wrapper is an Instance that wraps another with more of its own (the harness's Instance,
// with its links): Unwrap returns the runtime's instance inside.
type Wrapper interface {
	Unwrap() Instance
}

// AsSelfHealing returns the SelfHealing instance in is, or wraps: the platform's own
// restarts are a property of the runtime's instance, whatever wraps it.
func AsSelfHealing(in Instance) (SelfHealing, bool) {
	for in != nil {
		if sh, ok := in.(SelfHealing); ok {
			return sh, true
		}
		w, ok := in.(Wrapper)
		if !ok {
			return nil, false
		}
		in = w.Unwrap()
	}
	return nil, false
}

// ProxyHost is where the run's Toxiproxy server lives and how its proxies are reached.
type ProxyHost interface {
	// APIAddr is host:port of the Toxiproxy HTTP API, reachable from the harness process.
	APIAddr() string
	// ListenAddr is the listen address to give the slot'th proxy (0 <= slot < slots
	// asked of StartProxyHost). The server may pick the real port; read it back.
	ListenAddr(slot int) string
	// HostAddr is where the harness reaches a proxy that listens on listen (the address
	// Toxiproxy reports back).
	HostAddr(ctx context.Context, listen string) (string, error)
	// NetAddr is where instances reach a proxy that listens on listen.
	NetAddr(listen string) string
}

// AliasProxyHoster is a Runtime that can start a proxy host of one instance's own, which
// the run's other instances reach at alias (its service's name, as compose has it) on
// the instance's own port numbers: its slot n listens on ports[n]. The docker runtime is
// one; a local process cannot be given a name, so the local runtime is not.
type AliasProxyHoster interface {
	StartAliasProxyHost(ctx context.Context, instance, alias string, ports []int) (ProxyHost, error)
}

// Runtime starts and removes the instances of one run.
type Runtime interface {
	// Name is "local", "docker" or "kubernetes".
	Name() string
	// RunID labels everything the run creates.
	RunID() string
	// Start starts one instance and waits until it is ready. On error, whatever was
	// created is already removed.
	Start(ctx context.Context, spec Spec) (Instance, error)
	// StartProxyHost starts the run's Toxiproxy server with room for slots proxies.
	StartProxyHost(ctx context.Context, slots int) (ProxyHost, error)
	// Close removes every instance, the proxy host and every network of the run. It is
	// safe to call more than once and after a failed Start.
	Close(ctx context.Context) error
}

// Execer is what an Instance that can run a command beside its program offers: both
// backends' instances do. It is how a readiness check such as pg_isready runs.
type Execer interface {
	// Exec runs cmd (placeholders replaced) beside the instance — in its container on
	// docker, on the host in the instance's data directory with its environment
	// locally — and returns its exit code and its output (stdout and stderr). err is
	// for a command that could not be run at all, never for a non-zero exit.
	Exec(ctx context.Context, cmd []string) (code int, output []byte, err error)
}

// CheckPorts says what is wrong with s.Ports, naming the field and the fix: every port
// needs a name of its own and, for a container, a number in range that Port and the
// other ports do not use.
func (s Spec) CheckPorts() error {
	seen := map[string]bool{}
	numbers := map[int]string{}
	if s.Port != 0 {
		numbers[s.Port] = "Spec.Port"
	}
	for i, p := range s.Ports {
		switch {
		case p.Name == "" || strings.ContainsAny(p.Name, "{}: \t\n"):
			return fmt.Errorf("Spec.Ports[%d].Name %q: give every port a name of letters, digits and '-' (\"peer\")", i, p.Name)
		case seen[p.Name]:
			return fmt.Errorf("Spec.Ports[%d].Name %q is used twice: give each port a name of its own", i, p.Name)
		case p.Port < 1 || p.Port > 65535:
			return fmt.Errorf("Spec.Ports[%d] (%s): port %d is out of range: use 1 to 65535", i, p.Name, p.Port)
		case numbers[p.Port] != "":
			return fmt.Errorf("Spec.Ports[%d] (%s): port %d is also %s's: give each port a number of its own", i, p.Name, p.Port, numbers[p.Port])
		}
		seen[p.Name] = true
		numbers[p.Port] = fmt.Sprintf("Spec.Ports[%d] (%s)", i, p.Name)
	}
	return nil
}

// UnknownPort is the error for a port name s.Ports does not have: it lists those it has.
func (s Spec) UnknownPort(name string) error {
	names := make([]string, 0, len(s.Ports))
	for _, p := range s.Ports {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("%s has no port called %q: it has no named ports (Spec.Ports)", s.Name, name)
	}
	return fmt.Errorf("%s has no port called %q: it has %s", s.Name, name, strings.Join(names, ", "))
}

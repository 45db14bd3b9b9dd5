package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/harness/runtime"
)

// Labels put on every container and network of a run, so that a run's leftovers can be
// found and removed by Close, Reap and CleanAll without Ryuk.
const (
	// LabelRun holds the run id.
	LabelRun = "faultline.run"
	// LabelPID holds the pid of the harness process that owns the run.
	LabelPID = "faultline.pid"
	// LabelStarted holds the unix time the run started.
	LabelStarted = "faultline.started"
	// LabelHost holds the host name of the harness process, so that a pid is only ever
	// judged on the host it belongs to.
	LabelHost = "faultline.host"
	// LabelInstance holds the instance name (the Spec's Name) of a container.
	LabelInstance = "faultline.instance"
	// LabelService holds the service name of a container.
	LabelService = "faultline.service"
	// LabelImage marks the images this package builds; they outlive runs on purpose.
	LabelImage = "faultline.image"
)

const (
	// defaultStartTimeout bounds readiness when the Spec does not say.
	defaultStartTimeout = 30 * time.Second
	// pingTimeout bounds the first call to the engine in New.
	pingTimeout = 10 * time.Second
	// availableTimeout bounds Available.
	availableTimeout = 2 * time.Second
	// cleanupTimeout bounds the removal of a container that failed to start.
	cleanupTimeout = 20 * time.Second
	// createTimeout bounds a container create, which is never cancelled half-way (see run).
	createTimeout = 30 * time.Second
	// closeWait bounds how long Close waits for the starts it cancelled to return.
	closeWait = 30 * time.Second
	// portsNetworkSuffix names the run's second network (faultline-<run>-ports). Instances
	// are on it as well as on the run's network so that their published port survives a
	// disconnect of the latter. It is the run's own, not Docker's default bridge, so that
	// no container of another run, or of anyone else, shares a network with the run's.
	portsNetworkSuffix = "-ports"
	// dataDir is where {{datadir}} points inside a container (the scratch image's WORKDIR).
	dataDir = "/data"
)

// Option customises New.
type Option func(*options)

type options struct {
	runID       string
	logger      *slog.Logger
	proxyBinary string
	imageRepo   string
	reap        bool
}

// WithRunID names the run; everything it creates is labelled with it. By default New
// makes one up from the time and a random suffix.
func WithRunID(id string) Option { return func(o *options) { o.runID = id } }

// WithLogger sends the runtime's logs (and testcontainers' own, at debug level) to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithProxyBinary is the static binary of cmd/faultline-toxiproxy (or toxiproxy's own
// server) that StartProxyHost runs; it must accept -host and -port.
func WithProxyBinary(path string) Option { return func(o *options) { o.proxyBinary = path } }

// WithImageRepo is the repository prefix of the images built from binaries and build
// contexts ("faultline" by default, giving faultline/<name>:<hash>). Runs that share a
// prefix share their images.
func WithImageRepo(repo string) Option { return func(o *options) { o.imageRepo = repo } }

// WithoutReap keeps New from removing the leftovers of dead runs (see Reap).
func WithoutReap() Option { return func(o *options) { o.reap = false } }

// Runtime is the docker backend: it starts the instances of one run as containers on
// the run's own network. It is safe for concurrent use.
type Runtime struct {
	runID   string
	log     *slog.Logger
	opts    options
	api     client.APIClient
	tc      *testcontainers.DockerProvider
	host    string     // where published ports are reached from the harness process
	bindIP  netip.Addr // host address ports are published on (invalid: every address)
	labels  map[string]string
	netName string
	netID   string
	ports   string // the run's ports network, see portsNetworkSuffix
	images  *imageCache

	mu        sync.Mutex
	instances map[string]*Instance // by Spec.Name, including starts in progress (nil)
	proxy     *ProxyHost
	proxyBusy bool
	closed    bool

	closeMu sync.Mutex // one Close at a time, so that none returns before the first is done
	// closing ends when Close begins, cancelling every start in flight; inflight counts
	// those starts, so that Close sweeps only once each has removed what it made.
	closing  context.Context
	stopAll  context.CancelFunc
	inflight sync.WaitGroup
}

var _ runtime.Runtime = (*Runtime)(nil)

// New connects to the Docker engine, removes the leftovers of dead runs and creates the
// run's network. It fails at once, naming the fix, when the engine does not answer.
func New(ctx context.Context, opts ...Option) (*Runtime, error) {
	o := options{imageRepo: "faultline", reap: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.runID == "" {
		o.runID = newRunID()
	}
	if !validName.MatchString(o.runID) {
		return nil, fmt.Errorf("docker runtime: run id %q: want letters, digits, '.', '_' or '-'", o.runID)
	}
	if !validRepo.MatchString(o.imageRepo) {
		return nil, fmt.Errorf("docker runtime: image repository %q: want lowercase letters, digits, '.', '_', '-' and '/'", o.imageRepo)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	log := o.logger.With("runtime", "docker", "run", o.runID)

	api, err := connect(ctx, pingTimeout)
	if err != nil {
		return nil, err
	}
	tc, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tcLogger{log}))
	if err != nil {
		_ = api.Close()
		return nil, fmt.Errorf("docker runtime: testcontainers provider: %w", err)
	}
	_ = api.Close() // the provider's own client serves from here on
	if !tc.Config().RyukDisabled {
		_ = tc.Close()
		return nil, errors.New("docker runtime: testcontainers read its configuration before " +
			"TESTCONTAINERS_RYUK_DISABLED=true was set and would start Ryuk, which needs a pulled " +
			"image: set TESTCONTAINERS_RYUK_DISABLED=true in the environment")
	}
	host, err := tc.DaemonHost(ctx)
	if err != nil {
		_ = tc.Close()
		return nil, fmt.Errorf("docker runtime: resolve the host of published ports: %w", err)
	}

	hostname, _ := os.Hostname()
	r := &Runtime{
		runID:   o.runID,
		log:     log,
		opts:    o,
		api:     tc.Client(),
		tc:      tc,
		host:    host,
		netName: "faultline-" + o.runID,
		images:  newImageCache(),
		labels: map[string]string{
			LabelRun:     o.runID,
			LabelPID:     strconv.Itoa(os.Getpid()),
			LabelStarted: strconv.FormatInt(time.Now().Unix(), 10),
			LabelHost:    hostname,
		},
		instances: map[string]*Instance{},
	}
	r.closing, r.stopAll = context.WithCancel(context.Background())
	r.bindIP = bindAddr(host, isLocalSocket(r.api.DaemonHost()))

	if o.reap {
		if n, err := reap(ctx, r.api, log); err != nil {
			log.Warn("reap leftovers of dead runs", "err", err)
		} else if n > 0 {
			log.Info("removed leftovers of dead runs", "removed", n)
		}
	}

	res, err := r.api.NetworkCreate(ctx, r.netName, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: r.labels,
	})
	if err != nil {
		_ = tc.Close()
		return nil, fmt.Errorf("docker runtime: create network %s: %w", r.netName, err)
	}
	r.netID = res.ID
	r.ports = r.netName + portsNetworkSuffix
	if _, err := r.api.NetworkCreate(ctx, r.ports, client.NetworkCreateOptions{Driver: "bridge", Labels: r.labels}); err != nil {
		_, _ = r.api.NetworkRemove(context.WithoutCancel(ctx), r.netID, client.NetworkRemoveOptions{})
		_ = tc.Close()
		return nil, fmt.Errorf("docker runtime: create network %s: %w", r.ports, err)
	}
	log.Debug("docker runtime ready", "network", r.netName, "host", host, "engine", r.api.DaemonHost())
	return r, nil
}

// Available reports whether a Docker engine answers within about two seconds, for
// choosing a backend automatically.
func Available(ctx context.Context) bool {
	api, err := connect(ctx, availableTimeout)
	if err != nil {
		return false
	}
	_ = api.Close()
	return true
}

// Name is "docker".
func (r *Runtime) Name() string { return "docker" }

// RunID labels everything the run creates.
func (r *Runtime) RunID() string { return r.runID }

// Network is the name of the run's Docker network.
func (r *Runtime) Network() string { return r.netName }

// Start builds (or reuses) the instance's image, starts its container on the run's
// network with the alias Spec.Name, and waits until it answers on Spec.Health. On error
// the container is removed and the error ends with its last log lines.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	if err := validateSpec(spec); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	if spec.StartTimeout <= 0 {
		spec.StartTimeout = defaultStartTimeout
	}
	if err := r.reserve(spec.Name); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	defer r.inflight.Done()
	ctx, cancel := r.whileOpen(ctx)
	defer cancel()
	inst, err := r.start(ctx, spec)
	r.mu.Lock()
	if err == nil && r.closed {
		err = errors.New("runtime closed while it started")
		defer r.discard(ctx, inst.name)
	}
	if err != nil {
		delete(r.instances, spec.Name)
	} else {
		r.instances[spec.Name] = inst
	}
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	return inst, nil
}

func (r *Runtime) start(ctx context.Context, spec runtime.Spec) (*Instance, error) {
	began := time.Now()
	image, err := r.image(ctx, spec.Artifact)
	if err != nil {
		return nil, err
	}
	built := time.Since(began)

	port := containerPort(spec.Port)
	inst := &Instance{
		rt:    r,
		spec:  spec,
		name:  r.containerName(spec.Name),
		port:  port,
		log:   r.log.With("instance", spec.Name),
		ready: readiness(spec),
	}
	req := testcontainers.ContainerRequest{
		Image:          image,
		Name:           inst.name,
		Cmd:            replaceAll(spec.Args, spec),
		Env:            replaceEnv(spec.Env, spec),
		Labels:         r.containerLabels(map[string]string{LabelInstance: spec.Name, LabelService: spec.Service}),
		Networks:       []string{r.netName, r.ports},
		NetworkAliases: map[string][]string{r.netName: {spec.Name}},
		WaitingFor:     inst.ready,
		Entrypoint:     spec.Entrypoint,
	}
	if spec.User != "" || spec.StopSignal != "" {
		req.ConfigModifier = func(c *container.Config) {
			if spec.User != "" {
				c.User = spec.User
			}
			if spec.StopSignal != "" {
				c.StopSignal = spec.StopSignal
			}
		}
	}
	// Every port is published, each on an ephemeral host port of its own.
	var published []network.Port
	if spec.Port > 0 {
		published = append(published, port)
	}
	for _, p := range spec.Ports {
		published = append(published, containerPort(p.Port))
	}
	if len(published) > 0 {
		for _, p := range published {
			req.ExposedPorts = append(req.ExposedPorts, p.String())
		}
		req.HostConfigModifier = r.publish(published...)
	}
	ctr, err := r.run(ctx, req)
	if err != nil {
		return nil, err
	}
	inst.ctr = ctr
	inst.id = ctr.GetContainerID()
	if err := inst.refresh(ctx); err != nil {
		r.discard(ctx, inst.name)
		return nil, err
	}
	inst.log.Debug("instance ready", "image", image, "host_addr", inst.HostAddr(),
		"image_ready", built.Round(time.Millisecond), "took", time.Since(began).Round(time.Millisecond))
	return inst, nil
}

// run creates and starts a container; on failure it removes it and returns the error
// with the container's last log lines.
//
// The create itself is not cancelled with ctx: a create the client gives up on can still
// complete at the engine after every cleanup has looked (a run interrupted halfway
// through Up left such a container behind). Waiting for the engine's answer keeps the
// container known, so that the discard below removes it.
func (r *Runtime) run(ctx context.Context, req testcontainers.ContainerRequest) (*testcontainers.DockerContainer, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	c, err := r.tc.CreateContainer(cctx, req)
	cancel()
	if err == nil {
		err = c.Start(ctx)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("not ready %s: %w", describe(req.WaitingFor), err)
		}
	}
	if err != nil {
		tail := r.logTail(ctx, req.Name)
		r.discard(ctx, req.Name)
		if tail != "" {
			return nil, fmt.Errorf("container %s: %w\nlast log lines:\n%s", req.Name, err, tail)
		}
		return nil, fmt.Errorf("container %s: %w (it wrote no logs)", req.Name, err)
	}
	dc, ok := c.(*testcontainers.DockerContainer)
	if !ok {
		r.discard(ctx, req.Name)
		return nil, fmt.Errorf("container %s: unexpected container type %T", req.Name, c)
	}
	return dc, nil
}

// StartProxyHost starts the run's Toxiproxy server from the proxy binary (WithProxyBinary)
// as a container with the alias "toxiproxy" and slots proxy ports published.
func (r *Runtime) StartProxyHost(ctx context.Context, slots int) (runtime.ProxyHost, error) {
	if r.opts.proxyBinary == "" {
		return nil, errors.New("start proxy host: no proxy binary: pass docker.WithProxyBinary(path) " +
			"with a static build of cmd/faultline-toxiproxy (CGO_ENABLED=0 go build ./cmd/faultline-toxiproxy)")
	}
	if slots < 0 || slots > maxProxySlots {
		return nil, fmt.Errorf("start proxy host: %d slots: want 0..%d", slots, maxProxySlots)
	}
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return nil, errors.New("start proxy host: runtime is closed")
	case r.proxy != nil || r.proxyBusy:
		r.mu.Unlock()
		return nil, errors.New("start proxy host: the run already has one")
	}
	r.proxyBusy = true
	r.inflight.Add(1)
	r.mu.Unlock()
	defer r.inflight.Done()
	ctx, cancel := r.whileOpen(ctx)
	defer cancel()

	p, err := r.startProxy(ctx, ProxyAlias, ProxyAlias, slotPorts(slots))
	r.mu.Lock()
	r.proxyBusy = false
	if err == nil && r.closed {
		err = errors.New("runtime closed while it started")
		defer r.discard(ctx, p.id)
	}
	if err == nil {
		r.proxy = p
	}
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start proxy host: %w", err)
	}
	return p, nil
}

// StartAliasProxyHost starts a Toxiproxy server of the instance's own: a container
// answering to alias on the run's network (Docker answers a name several containers
// carry with all of them), whose slot n listens on ports[n], each published. A by-name
// service's instance gets one, so that "db:5432" reaches db-1 through a proxy.
func (r *Runtime) StartAliasProxyHost(ctx context.Context, instance, alias string, ports []int) (runtime.ProxyHost, error) {
	if r.opts.proxyBinary == "" {
		return nil, fmt.Errorf("start proxy host of %s: no proxy binary: pass docker.WithProxyBinary(path)", instance)
	}
	if len(ports) == 0 || len(ports) > maxProxySlots {
		return nil, fmt.Errorf("start proxy host of %s: %d ports: want 1..%d", instance, len(ports), maxProxySlots)
	}
	for _, p := range ports {
		if p < 1 || p > 65535 || p == ProxyAPIPort {
			return nil, fmt.Errorf("start proxy host of %s: port %d: use 1 to 65535, but not %d (Toxiproxy's API)", instance, p, ProxyAPIPort)
		}
	}
	name := instance + "-proxy"
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("start proxy host of %s: runtime is closed", instance)
	}
	r.inflight.Add(1)
	r.mu.Unlock()
	defer r.inflight.Done()
	ctx, cancel := r.whileOpen(ctx)
	defer cancel()
	p, err := r.startProxy(ctx, name, alias, slices.Clone(ports))
	if err != nil {
		return nil, fmt.Errorf("start proxy host of %s: %w", instance, err)
	}
	return p, nil
}

// Close removes every container and the network of the run. It first cancels every
// Start and StartProxyHost in flight and waits (a little) for them to remove what they
// made, so that no container appears after it has looked. It is safe to call more than
// once, and from several goroutines at once: a second Close waits for the first and then
// looks again, so that a caller that exits the process next (Ginkgo after its cleanup,
// while the harness's signal handler closes the same run) cannot cut the first short and
// leave the network behind. ctx bounds it.
func (r *Runtime) Close(ctx context.Context) error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	r.mu.Lock()
	first := !r.closed
	r.closed = true
	r.mu.Unlock()

	r.stopAll()
	settled := make(chan struct{})
	go func() {
		r.inflight.Wait()
		close(settled)
	}()
	select {
	case <-settled:
	case <-ctx.Done():
	case <-time.After(closeWait):
		r.log.Warn("close: starts in flight did not return in time; sweeping anyway", "waited", closeWait)
	}

	n, err := removeAll(ctx, r.api, client.Filters{}.Add("label", LabelRun+"="+r.runID), nil)
	if err != nil {
		return fmt.Errorf("close docker run %s: %w", r.runID, err)
	}
	if first {
		r.log.Debug("docker runtime closed", "removed", n)
		_ = r.tc.Close()
	}
	return nil
}

// Leftovers lists the containers and networks of this run that are still present, as
// "container <name>" and "network <name>"; after Close it should be empty.
func (r *Runtime) Leftovers(ctx context.Context) ([]string, error) {
	return list(ctx, r.api, client.Filters{}.Add("label", LabelRun+"="+r.runID))
}

// reserve claims an instance name for a start in progress.
func (r *Runtime) reserve(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("runtime is closed")
	}
	if _, ok := r.instances[name]; ok {
		return fmt.Errorf("an instance named %q already exists in run %s", name, r.runID)
	}
	r.instances[name] = nil
	r.inflight.Add(1) // Start calls Done
	return nil
}

// whileOpen derives from ctx a context that also ends when Close begins.
func (r *Runtime) whileOpen(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.closing, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// publish binds each port to an ephemeral host port on bindIP.
func (r *Runtime) publish(ports ...network.Port) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		hc.PortBindings = network.PortMap{}
		for _, p := range ports {
			hc.PortBindings[p] = []network.PortBinding{{HostIP: r.bindIP, HostPort: "0"}}
		}
	}
}

func (r *Runtime) containerLabels(extra map[string]string) map[string]string {
	l := make(map[string]string, len(r.labels)+len(extra))
	for k, v := range r.labels {
		l[k] = v
	}
	for k, v := range extra {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

func (r *Runtime) containerName(name string) string {
	return "faultline-" + r.runID + "-" + name
}

// discard removes a container that must not outlive a failed operation, even when ctx
// has already ended. A reaper or a Close removing it at the same time is no failure
// (see removeContainer).
func (r *Runtime) discard(ctx context.Context, nameOrID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := removeContainer(ctx, r.api, nameOrID); err != nil {
		r.log.Warn("remove container after failed start", "container", nameOrID, "err", err)
	}
}

// logTail returns the last lines a container wrote, or "" if there are none.
func (r *Runtime) logTail(ctx context.Context, nameOrID string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	b, err := containerLogs(ctx, r.api, nameOrID, strconv.Itoa(logTailLines))
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\n")
}

const logTailLines = 30

// tcLogger hands testcontainers' chatter to slog at debug level.
type tcLogger struct{ l *slog.Logger }

func (t tcLogger) Printf(format string, v ...any) {
	t.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "from", "testcontainers")
}

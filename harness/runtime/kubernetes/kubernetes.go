package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline/faultline/harness/runtime"
)

// Labels put on the namespace and every object of a run, so that a run's leftovers can be
// found and removed by Close and Reap.
const (
	// LabelRun holds the run id.
	LabelRun = "faultline.run"
	// LabelPID holds the pid of the harness process that owns the run.
	LabelPID = "faultline.pid"
	// LabelHost holds the host name of the harness process (a pid is judged on its host only).
	LabelHost = "faultline.host"
	// LabelStarted holds the unix time the run started.
	LabelStarted = "faultline.started"
	// LabelInstance holds the instance name (the Spec's Name) of a pod.
	LabelInstance = "faultline.instance"
	// LabelService holds the service name of a pod.
	LabelService = "faultline.service"
)

const (
	// NamespacePrefix begins every run's namespace: faultline-<run id>.
	NamespacePrefix = "faultline-"
	// ImportEnv names the environment variable that gives the image import command when
	// WithImageImport does not (ci/kube.sh writes it).
	ImportEnv = "FAULTLINE_KUBE_IMPORT"
	// defaultStartTimeout bounds readiness when the Spec does not say.
	defaultStartTimeout = 60 * time.Second
	// pingTimeout bounds New's first call to the API server.
	pingTimeout = 10 * time.Second
	// closeTimeout bounds the wait for the run's namespace to be gone.
	closeTimeout = 90 * time.Second
	// dataDir is where {{datadir}} points in a pod: the instance's volume.
	dataDir = "/data"
	// dataSize is the size asked of each instance's volume.
	dataSize = "256Mi"
)

// Option customises New.
type Option func(*options)

type options struct {
	runID        string
	logger       *slog.Logger
	kubeconfig   string
	context      string
	proxyBinary  string
	proxyImage   string
	importCmd    []string
	storageClass string
	reap         bool
}

// WithRunID names the run (lowercase letters, digits and '-'); its namespace is
// faultline-<id>. By default New makes one up from the time and a random suffix.
func WithRunID(id string) Option { return func(o *options) { o.runID = id } }

// WithLogger sends the runtime's logs to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithKubeconfig reads the cluster's address and credentials from path instead of
// $KUBECONFIG or ~/.kube/config.
func WithKubeconfig(path string) Option { return func(o *options) { o.kubeconfig = path } }

// WithContext picks a context of the kubeconfig other than its current one.
func WithContext(name string) Option { return func(o *options) { o.context = name } }

// WithProxyBinary is the static binary of cmd/faultline-toxiproxy that StartProxyHost runs
// as a pod, packed and imported as Binary artifacts are.
func WithProxyBinary(path string) Option { return func(o *options) { o.proxyBinary = path } }

// WithProxyImage is an image of cmd/faultline-toxiproxy the cluster can pull, for a
// cluster whose node is not yours (it wins over WithProxyBinary).
func WithProxyImage(image string) Option { return func(o *options) { o.proxyImage = image } }

// WithImageImport is the command that imports an OCI image tar, read from its standard
// input, into the cluster's node ("ctr --address … -n k8s.io images import -"). Without
// it, FAULTLINE_KUBE_IMPORT is read (split on spaces); without either, Binary artifacts
// are refused with the fix.
func WithImageImport(cmd ...string) Option { return func(o *options) { o.importCmd = cmd } }

// WithStorageClass names the StorageClass of the instances' data volumes (default: the
// cluster's default class).
func WithStorageClass(name string) Option { return func(o *options) { o.storageClass = name } }

// WithoutReap keeps New from deleting the namespaces of dead runs (see Reap).
func WithoutReap() Option { return func(o *options) { o.reap = false } }

// validRunID is a run id that makes a valid namespace name.
var validRunID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)

// Runtime is the kubernetes backend: it starts the instances of one run as pods in the
// run's own namespace. It is safe for concurrent use.
type Runtime struct {
	runID     string
	namespace string
	log       *slog.Logger
	opts      options
	cfg       *rest.Config
	cs        kubernetes.Interface
	server    string
	labels    map[string]string

	cache *cache

	mu        sync.Mutex
	instances map[string]*Instance // by Spec.Name; nil while a start is in progress
	proxy     *ProxyHost
	proxyBusy bool
	forwards  []*forwarder
	closed    bool
	closeMu   sync.Mutex
}

var (
	_ runtime.Runtime     = (*Runtime)(nil)
	_ runtime.SpecChecker = (*Runtime)(nil)
)

// Config loads the client configuration New would use: the kubeconfig at path (or
// $KUBECONFIG, or ~/.kube/config) with the given context (or its current one).
func Config(path, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		where := "$KUBECONFIG or ~/.kube/config"
		if path != "" {
			where = path
		}
		return nil, "", fmt.Errorf("kubernetes runtime: load the kubeconfig (%s): %w: point KUBECONFIG at your cluster's kubeconfig (ci/kube.sh up prints one for the test cluster)", where, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, cfg.Host, nil
}

// Check reports whether the cluster the kubeconfig names answers, with the fix when it
// does not.
func Check(ctx context.Context, opts ...Option) error {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	_, cs, host, err := Client(o.kubeconfig, o.context)
	if err != nil {
		return err
	}
	return ping(ctx, cs, host)
}

// Client is a client of the cluster the kubeconfig at path (or $KUBECONFIG, or
// ~/.kube/config) names in context (or its current one), with its configuration and the
// API server's address.
func Client(path, context string) (*rest.Config, kubernetes.Interface, string, error) {
	cfg, host, err := Config(path, context)
	if err != nil {
		return nil, nil, "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("kubernetes runtime: client for %s: %w", host, err)
	}
	return cfg, cs, host, nil
}

// ping fails, naming the fix, unless the cluster answers within pingTimeout.
func ping(ctx context.Context, cs kubernetes.Interface, host string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("kubernetes runtime: the cluster at %s does not answer: %w: check KUBECONFIG and its context, or start the test cluster with ci/kube.sh up", host, err)
	}
	return nil
}

// New connects to the cluster, deletes the namespaces of dead runs and creates the run's
// namespace. It fails at once, naming the fix, when the cluster does not answer.
func New(ctx context.Context, opts ...Option) (*Runtime, error) {
	o := options{reap: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.runID == "" {
		o.runID = newRunID()
	}
	if !validRunID.MatchString(o.runID) {
		return nil, fmt.Errorf("kubernetes runtime: run id %q: want at most 42 lowercase letters, digits and '-', beginning and ending with a letter or digit", o.runID)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if len(o.importCmd) == 0 {
		o.importCmd = strings.Fields(os.Getenv(ImportEnv))
	}
	cfg, cs, host, err := Client(o.kubeconfig, o.context)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, cs, host); err != nil {
		return nil, err
	}
	hostname, _ := os.Hostname()
	r := &Runtime{
		runID:     o.runID,
		namespace: NamespacePrefix + o.runID,
		log:       o.logger.With("runtime", "kubernetes", "run", o.runID),
		opts:      o,
		cfg:       cfg,
		cs:        cs,
		server:    host,
		labels: map[string]string{
			LabelRun:     o.runID,
			LabelPID:     strconv.Itoa(os.Getpid()),
			LabelHost:    labelValue(hostname),
			LabelStarted: strconv.FormatInt(time.Now().Unix(), 10),
		},
		instances: map[string]*Instance{},
	}
	if o.reap {
		if n, err := Reap(ctx, cs, r.log); err != nil {
			r.log.Warn("reap the namespaces of dead runs", "err", err)
		} else if n > 0 {
			r.log.Info("deleted the namespaces of dead runs", "deleted", n)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace, Labels: r.labels}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kubernetes runtime: create namespace %s on %s: %w", r.namespace, host, err)
	}
	if r.cache, err = r.newCache(ctx); err != nil {
		_ = deleteNamespace(context.WithoutCancel(ctx), cs, r.namespace)
		return nil, fmt.Errorf("kubernetes runtime: %w", err)
	}
	r.log.Info("run namespace created", "namespace", r.namespace, "server", host)
	return r, nil
}

// newRunID makes a run id from the time and a random suffix.
func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return strings.ToLower(time.Now().UTC().Format("20060102t150405")) + "-" + hex.EncodeToString(b)
}

// notLabelChars are the characters a label value may not hold.
var notLabelChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// labelValue keeps what a label value may hold (the host name may be longer).
func labelValue(s string) string {
	s = notLabelChars.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "._-")
}

// Name is "kubernetes".
func (r *Runtime) Name() string { return "kubernetes" }

// RunID labels everything the run creates.
func (r *Runtime) RunID() string { return r.runID }

// Namespace is the run's namespace.
func (r *Runtime) Namespace() string { return r.namespace }

// Server is the address of the cluster's API server.
func (r *Runtime) Server() string { return r.server }

// validInstance is a Spec.Name that makes valid object names.
var validInstance = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,48}[a-z0-9])?$`)

// Supports says which fields of spec this runtime cannot honour, with the fix. It judges
// only what is set: Up asks it before anything is built, with the kind of artifact only.
func (r *Runtime) Supports(spec runtime.Spec) error {
	a := spec.Artifact
	switch {
	case !validInstance.MatchString(spec.Name):
		return fmt.Errorf("Spec.Name %q: on kubernetes a name is at most 50 lowercase letters, digits and '-', beginning with a letter (it names the pod's StatefulSet and Service)", spec.Name)
	case spec.Name == proxyName:
		return fmt.Errorf("Spec.Name %q is the run's Toxiproxy pod: give the instance another name", spec.Name)
	case a.Dockerfile != "":
		return fmt.Errorf("Spec.Artifact.Dockerfile %q: the kubernetes runtime builds no Dockerfile: build and push the image where your cluster pulls from and set Spec.Artifact.Image, or give a static binary as Spec.Artifact.Binary", a.Dockerfile)
	case a.Binary != "" && len(r.opts.importCmd) == 0:
		return fmt.Errorf("Spec.Artifact.Binary %q: the kubernetes runtime needs a way to put its image on the node: set %s (ci/kube.sh up prints it for the test cluster) or pass kubernetes.WithImageImport, or give an image your cluster can pull as Spec.Artifact.Image", a.Binary, ImportEnv)
	case spec.User != "" && !numericUser.MatchString(spec.User):
		return fmt.Errorf("Spec.User %q: on kubernetes give a numeric uid or uid:gid (\"999:999\"); a user's name is not resolved", spec.User)
	case spec.StopSignal != "" && spec.StopSignal != "SIGTERM" && a.Binary == "":
		return fmt.Errorf("Spec.StopSignal %s: Kubernetes stops a pod with its image's STOPSIGNAL: set it in the image and leave Spec.StopSignal empty", spec.StopSignal)
	}
	if spec.StopSignal != "" {
		if _, ok := runtime.StopSignals[spec.StopSignal]; !ok {
			return fmt.Errorf("Spec.StopSignal %q: use one of %s", spec.StopSignal, runtime.StopSignalNames())
		}
	}
	return spec.CheckPorts()
}

var numericUser = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)

// Start starts one instance and waits until it is ready. On error, whatever was created
// is already removed.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	if err := r.Supports(spec); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	switch {
	case spec.Artifact.Binary == "" && spec.Artifact.Image == "":
		return nil, fmt.Errorf("start %s: Spec.Artifact is empty: set Spec.Artifact.Image (an image your cluster can pull) or Spec.Artifact.Binary (a static executable)", spec.Name)
	case spec.Port == 0:
		return nil, fmt.Errorf("start %s: Spec.Port is 0: give the port the program listens on in its pod", spec.Name)
	}
	if err := r.reserve(spec.Name); err != nil {
		return nil, err
	}
	in, err := r.start(ctx, spec)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || r.closed {
		delete(r.instances, spec.Name)
		if err == nil {
			in.remove(context.Background())
			err = fmt.Errorf("start %s: the runtime was closed meanwhile", spec.Name)
		}
		return nil, err
	}
	r.instances[spec.Name] = in
	return in, nil
}

// reserve claims name for a start, or says why it cannot.
func (r *Runtime) reserve(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("start %s: the kubernetes runtime is closed", name)
	}
	if _, dup := r.instances[name]; dup {
		return fmt.Errorf("start %s: an instance of that name already exists in run %s: give each instance a name of its own", name, r.runID)
	}
	r.instances[name] = nil
	return nil
}

// Close deletes the run's namespace and waits until it is gone. It is safe to call more
// than once.
func (r *Runtime) Close(ctx context.Context) error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	r.mu.Lock()
	already := r.closed
	r.closed = true
	fwds := r.forwards
	r.forwards = nil
	ins := make([]*Instance, 0, len(r.instances))
	for _, in := range r.instances {
		if in != nil {
			ins = append(ins, in)
		}
	}
	r.mu.Unlock()
	for _, f := range fwds {
		f.Close()
	}
	for _, in := range ins {
		in.stopLogs()
	}
	if already {
		return nil
	}
	defer r.cache.close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	began := time.Now()
	if err := deleteNamespace(ctx, r.cs, r.namespace); err != nil {
		return fmt.Errorf("close run %s: %w", r.runID, err)
	}
	r.log.Info("run namespace deleted", "namespace", r.namespace, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// deleteNamespace deletes the namespace's StatefulSets (leaving their pods, so that no
// controller makes another and none is deleted with its grace), force-deletes the pods
// (their processes are the run's to end, not to wait for), deletes the namespace and
// waits until it is gone.
func deleteNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	if err := deleteContent(ctx, cs, ns); err != nil {
		return err
	}
	// The namespace controller retries a namespace with content left with a backoff that
	// doubles each time: deleting it only once its volumes are released spares those waits.
	// A pod a controller made while the first deletes ran (a StatefulSet's replacement
	// for one just killed) would hold its volume, and run on: every round deletes the
	// pods again.
	zero := int64(0)
	if err := until(ctx, func() (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		if len(pods.Items) > 0 {
			err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
			return false, err
		}
		pvcs, err := cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(pvcs.Items) == 0, err
	}); err != nil {
		return fmt.Errorf("the volumes of namespace %s are still there: %w", ns, err)
	}
	slog.Debug("volume claims released", "namespace", ns)
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	if err := until(ctx, func() (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}); err != nil {
		return fmt.Errorf("namespace %s is still there (terminating): %w", ns, err)
	}
	return nil
}

// until polls done every 100 ms until it says true or ctx ends; the error is the last
// one done gave, or ctx's.
func until(ctx context.Context, done func() (bool, error)) error {
	var last error
	for {
		ok, err := done()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deleteContent deletes the namespace's StatefulSets (leaving their pods, so that no
// controller makes another and none is deleted with its grace), force-deletes the pods
// (their processes are the run's to end, not to wait for), and deletes the volume claims
// and Services.
func deleteContent(ctx context.Context, cs kubernetes.Interface, ns string) error {
	orphan := metav1.DeletePropagationOrphan
	err := cs.AppsV1().StatefulSets(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &orphan}, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the StatefulSets of namespace %s: %w", ns, err)
	}
	zero := int64(0)
	err = cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the pods of namespace %s: %w", ns, err)
	}
	err = cs.CoreV1().PersistentVolumeClaims(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the volume claims of namespace %s: %w", ns, err)
	}
	return nil
}

// startDelete deletes the namespace's content and the namespace, without waiting.
func startDelete(ctx context.Context, cs kubernetes.Interface, ns string) error {
	if err := deleteContent(ctx, cs, ns); err != nil {
		return err
	}
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	return nil
}

// Leftovers lists what of the run still exists: its namespace.
func (r *Runtime) Leftovers(ctx context.Context) ([]string, error) {
	ns, err := r.cs.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for namespace %s: %w", r.namespace, err)
	}
	return []string{fmt.Sprintf("namespace %s (%s): kubectl delete namespace %s", ns.Name, ns.Status.Phase, ns.Name)}, nil
}

// addForward keeps f to close with the run; false when the run is closed already.
func (r *Runtime) addForward(f *forwarder) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.forwards = append(r.forwards, f)
	return true
}

// objectLabels are the run's labels plus extra.
func (r *Runtime) objectLabels(extra map[string]string) map[string]string {
	l := make(map[string]string, len(r.labels)+len(extra))
	for k, v := range r.labels {
		l[k] = v
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

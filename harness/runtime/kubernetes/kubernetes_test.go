package kubernetes_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
)

// requiredEnv, when set (ci/test.sh sets it once ci/kube.sh up has brought a cluster up),
// turns a cluster that does not answer into a failure instead of a skip.
const requiredEnv = "FAULTLINE_KUBE_REQUIRED"

// requireCluster skips the test, saying why, when no cluster answers; it fails instead
// when one was promised.
func requireCluster(t *testing.T) {
	t.Helper()
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		clusterErr = kubernetes.Check(ctx)
	})
	if clusterErr == nil {
		return
	}
	if os.Getenv(requiredEnv) != "" {
		t.Fatalf("%s is set but no cluster answers: %v", requiredEnv, clusterErr)
	}
	t.Skipf("no Kubernetes cluster: %v (ci/kube.sh up starts one; make test does)", clusterErr)
}

var (
	clusterOnce sync.Once
	clusterErr  error
)

// proxyBinary builds cmd/faultline-toxiproxy once per test binary.
func proxyBinary(t *testing.T) string {
	t.Helper()
	proxyOnce.Do(func() {
		proxyPath, proxyErr = build.New().Package(context.Background(), "github.com/faultline/faultline/cmd/faultline-toxiproxy")
	})
	if proxyErr != nil {
		t.Fatalf("build cmd/faultline-toxiproxy: %v", proxyErr)
	}
	return proxyPath
}

var (
	proxyOnce sync.Once
	proxyPath string
	proxyErr  error
)

// syncBuffer collects a runtime's logs from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newRuntime starts a kubernetes runtime for the test and, at its end, closes it and
// checks that its namespace is gone. Its logs are shown when the test fails.
func newRuntime(t *testing.T, opts ...kubernetes.Option) *kubernetes.Runtime {
	t.Helper()
	requireCluster(t)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]kubernetes.Option{kubernetes.WithLogger(logger), kubernetes.WithProxyBinary(proxyBinary(t))}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := kubernetes.New(ctx, opts...)
	if err != nil {
		t.Fatalf("kubernetes.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		left, err := rt.Leftovers(ctx)
		if err != nil {
			t.Errorf("leftovers: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("run %s left behind: %s", rt.RunID(), strings.Join(left, ", "))
		}
		if t.Failed() || os.Getenv("FAULTLINE_TEST_LOGS") != "" {
			t.Logf("runtime logs:\n%s", logs.String())
		}
	})
	return rt
}

func TestConformance(t *testing.T) {
	requireCluster(t)
	artifact := conformance.BuildTestService(t)
	// Each subtest has a namespace of its own and mostly waits on the cluster's
	// controllers: side by side they take a third of the time.
	conformance.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t) }, artifact, conformance.Parallel())
}

// Reap deletes the namespaces of runs whose process is gone on this host, and no other:
// not a live run's, not another host's, not one that is not a run's.
func TestReapDeletesOnlyTheNamespacesOfDeadRuns(t *testing.T) {
	requireCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cs, _, err := kubernetes.Client("", "")
	if err != nil {
		t.Fatal(err)
	}
	// A pid that is surely dead: a child that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	host, _ := os.Hostname()
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	namespaces := map[string]map[string]string{
		"faultline-reap-dead-" + suffix:  {kubernetes.LabelRun: "x", kubernetes.LabelPID: dead, kubernetes.LabelHost: host},
		"faultline-reap-live-" + suffix:  {kubernetes.LabelRun: "x", kubernetes.LabelPID: strconv.Itoa(os.Getpid()), kubernetes.LabelHost: host},
		"faultline-reap-other-" + suffix: {kubernetes.LabelRun: "x", kubernetes.LabelPID: dead, kubernetes.LabelHost: "elsewhere"},
		"not-a-run-" + suffix:            {"app": "x"},
	}
	for name, labels := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace %s: %v", name, err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	if _, err := kubernetes.Reap(ctx, cs, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("reap: %v", err)
	}
	for name := range namespaces {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		gone := apierrors.IsNotFound(err) || err == nil && ns.DeletionTimestamp != nil
		if want := strings.HasPrefix(name, "faultline-reap-dead-"); gone != want {
			t.Errorf("namespace %s: deleted %v, want %v", name, gone, want)
		}
	}
}

package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
	"github.com/faultline/faultline/harness/runtime/local"
)

// ProxyPackage is the Go package of faultline's Toxiproxy server (Toxiproxy plus our own
// toxics), which the docker runtime runs as a container on the run's network.
const ProxyPackage = "github.com/faultline/faultline/cmd/faultline-toxiproxy"

// KubeContextEnv names the kubeconfig context the kubernetes runtime uses (default: the
// kubeconfig's current one); KubeProxyImageEnv an image of cmd/faultline-toxiproxy the
// cluster can pull, for a cluster whose node the harness cannot import images into.
const (
	KubeContextEnv    = "FAULTLINE_KUBE_CONTEXT"
	KubeProxyImageEnv = "FAULTLINE_KUBE_PROXY_IMAGE"
)

// RuntimeKind reads FAULTLINE_RUNTIME: "docker", "local", "kubernetes", or "auto" (the
// default).
func RuntimeKind() string {
	if k := os.Getenv("FAULTLINE_RUNTIME"); k != "" {
		return k
	}
	return "auto"
}

// NewRuntime returns a runtime of the given kind ("" reads FAULTLINE_RUNTIME): docker,
// local, kubernetes (the cluster $KUBECONFIG names, with the context
// $FAULTLINE_KUBE_CONTEXT when set), or auto — docker when an engine answers, else local,
// saying which it chose. On docker and kubernetes it first reaps the leftovers of runs
// whose process is dead.
func NewRuntime(ctx context.Context, kind string, logger *slog.Logger) (runtime.Runtime, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if kind == "" {
		kind = RuntimeKind()
	}
	switch kind {
	case "auto":
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := docker.Check(actx)
		cancel()
		if err == nil {
			logger.Info("runtime auto: a Docker engine answers; using docker")
			return NewRuntime(ctx, "docker", logger)
		}
		logger.Info("runtime auto: no Docker engine answers; using local processes", "reason", err)
		return NewRuntime(ctx, "local", logger)
	case "local":
		rt, err := local.New(local.WithLogger(logger))
		if err != nil {
			return nil, fmt.Errorf("local runtime: %w", err)
		}
		return rt, nil
	case "docker":
		if n, err := docker.Reap(ctx, logger); errors.Is(err, docker.ErrUnreachable) {
			// Fail before building anything: nothing can run without an engine.
			return nil, fmt.Errorf("docker runtime: %w", err)
		} else if err != nil {
			logger.Warn("reaping leftovers of dead runs failed", "err", err)
		} else if n > 0 {
			logger.Info("reaped leftovers of dead runs", "removed", n)
		}
		proxy, err := build.New().Package(ctx, ProxyPackage)
		if err != nil {
			return nil, fmt.Errorf("docker runtime: %w", err)
		}
		rt, err := docker.New(ctx, docker.WithLogger(logger), docker.WithProxyBinary(proxy))
		if err != nil {
			return nil, fmt.Errorf("docker runtime: %w", err)
		}
		return rt, nil
	case "kubernetes":
		opts := []kubernetes.Option{kubernetes.WithLogger(logger), kubernetes.WithContext(os.Getenv(KubeContextEnv))}
		if img := os.Getenv(KubeProxyImageEnv); img != "" {
			opts = append(opts, kubernetes.WithProxyImage(img))
		} else {
			if err := kubernetes.Check(ctx, opts...); err != nil {
				return nil, err // before building anything
			}
			proxy, err := build.New().Package(ctx, ProxyPackage)
			if err != nil {
				return nil, fmt.Errorf("kubernetes runtime: %w", err)
			}
			opts = append(opts, kubernetes.WithProxyBinary(proxy))
		}
		rt, err := kubernetes.New(ctx, opts...)
		if err != nil {
			return nil, err
		}
		return rt, nil
	default:
		return nil, fmt.Errorf("FAULTLINE_RUNTIME=%q is unknown: use docker, local, kubernetes or auto", kind)
	}
}

package system_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
)

// killSamples is how many kills each runtime's time to serve again is the median of.
const killSamples = 5

// BenchmarkKubernetesAgainstDocker puts the kubernetes runtime next to the docker one, in
// turns, on this machine: the reference system's bring-up (harness.Up, runtime included),
// and a killed instance's time to serve again — on docker the harness starts the killed
// container again (what its supervisor does), on kubernetes the pod's agent SIGKILLs the
// program and the kubelet restarts the container in place by itself. It needs both a Docker engine and a cluster ($KUBECONFIG;
// make bench starts ci/kube.sh's), and skips, saying which is missing, without them.
func BenchmarkKubernetesAgainstDocker(b *testing.B) {
	ctx := bounded(b, 20*time.Minute)
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	dockerOK := docker.Available(actx)
	kubeErr := kubernetes.Check(actx)
	cancel()
	switch {
	case !dockerOK:
		b.Skip("docker engine not reachable: skipping the kubernetes-against-docker figures")
	case kubeErr != nil:
		b.Skipf("no Kubernetes cluster (ci/kube.sh up starts one): skipping the kubernetes-against-docker figures: %v", kubeErr)
	}
	proxy, err := build.New().Package(ctx, harness.ProxyPackage)
	if err != nil {
		b.Fatal(err)
	}
	newDocker := func(id string) func(context.Context) (runtime.Runtime, error) {
		return func(ctx context.Context) (runtime.Runtime, error) {
			return docker.New(ctx, docker.WithLogger(quiet()), docker.WithProxyBinary(proxy),
				docker.WithRunID("bench-"+session+"-"+id), docker.WithoutReap())
		}
	}
	newKube := func(context.Context) (runtime.Runtime, error) {
		return kubernetes.New(ctx, kubernetes.WithLogger(quiet()), kubernetes.WithProxyBinary(proxy))
	}
	// Warm-up, untimed: images built and imported on both.
	for _, newRT := range []func(context.Context) (runtime.Runtime, error){newDocker("warm"), newKube} {
		if _, _, down, err := upHarness(ctx, newRT); err != nil {
			b.Fatalf("warm-up: %v", err)
		} else {
			down()
		}
	}
	kube, dock := alternate(b, dockerSamples,
		func(int) (time.Duration, error) {
			d, _, down, err := upHarness(ctx, newKube)
			down()
			return d, err
		},
		func(i int) (time.Duration, error) {
			d, _, down, err := upHarness(ctx, newDocker(fmt.Sprintf("h%d", i)))
			down()
			return d, err
		})
	figure.Report(b, figure.Figure{
		Group: "kubernetes", Name: "reference system on kubernetes (harness.Up, median)",
		Measured: seconds(median(kube)), Baseline: seconds(median(dock)),
		BaselineName: "the same system on the docker runtime, in turns with it",
		Unit:         "s", Samples: dockerSamples,
		Note: fmt.Sprintf("kubernetes runs %v; docker runs %v; the single-node cluster of ci/kube.sh", rounded(kube), rounded(dock)),
	})

	artifact := conformance.BuildTestService(b)
	killKube, err := killToServe(ctx, newKube, artifact, true)
	if err != nil {
		b.Fatalf("kubernetes: %v", err)
	}
	killDocker, err := killToServe(ctx, newDocker("kill"), artifact, false)
	if err != nil {
		b.Fatalf("docker: %v", err)
	}
	figure.Report(b, figure.Figure{
		Group: "kubernetes", Name: "a killed instance serves again (kill to the first 200, median)",
		Measured: seconds(median(killKube)), Baseline: seconds(median(killDocker)),
		BaselineName: "docker: the container killed (SIGKILL) and started again at once, as its supervisor does",
		Unit:         "s", Samples: killSamples,
		Note: fmt.Sprintf("kubernetes (SIGKILL through the pod's agent, the container restarted in place by the kubelet) %v; docker %v; each kill on an instance of its own", rounded(killKube), rounded(killDocker)),
	})
}

// killToServe starts killSamples test services on a runtime newRT makes, then kills
// each once and times until its health answers 200 again through HostAddr: started again
// by the harness, or, where the platform heals (selfHealing), by the platform alone. One
// kill per instance: a container killed again within seconds of its restart meets the
// kubelet's crash-loop back-off (10 s, then doubling), a figure of its own.
func killToServe(ctx context.Context, newRT func(context.Context) (runtime.Runtime, error), art runtime.Artifact, selfHealing bool) ([]time.Duration, error) {
	rt, err := newRT(ctx)
	if err != nil {
		return nil, err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	var ins []runtime.Instance
	for i := range killSamples {
		in, err := rt.Start(ctx, conformance.ServiceSpec(fmt.Sprintf("svc-%d", i+1), art))
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	var out []time.Duration
	for i, in := range ins {
		began := time.Now()
		if err := in.Kill(ctx); err != nil {
			return nil, fmt.Errorf("kill %d: %w", i+1, err)
		}
		if !selfHealing {
			if err := in.Start(ctx); err != nil {
				return nil, fmt.Errorf("start after kill %d: %w", i+1, err)
			}
		}
		if err := servesAgain(ctx, in, time.Minute); err != nil {
			return nil, fmt.Errorf("after kill %d: %w", i+1, err)
		}
		out = append(out, time.Since(began))
	}
	return out, nil
}

// servesAgain polls the instance's health through HostAddr every 20 ms until it answers 200.
func servesAgain(ctx context.Context, in runtime.Instance, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := client.Get("http://" + in.HostAddr() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not serving within %s: %v", within, last)
}

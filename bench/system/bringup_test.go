package system_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/bench/system/bare"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/local"
)

// Sample counts: a docker bring-up takes seconds, so few; a local one is cheaper.
const (
	localSamples  = 5
	dockerSamples = 3
)

// upHarness brings the reference system up under the harness on a new runtime made by
// newRT, and returns how long that took (runtime included) and a teardown.
func upHarness(ctx context.Context, newRT func(context.Context) (runtime.Runtime, error)) (time.Duration, *harness.Running, func(), error) {
	began := time.Now()
	rt, err := newRT(ctx)
	if err != nil {
		return 0, nil, func() {}, err
	}
	sys, err := harness.Up(ctx, reference.System(), harness.WithRuntime(rt),
		harness.WithReadiness(reference.Ready), harness.WithLogger(quiet()))
	took := time.Since(began)
	down := func() {
		if sys != nil {
			_ = sys.Down(context.WithoutCancel(ctx))
		}
		_ = rt.Close(context.WithoutCancel(ctx))
	}
	if err != nil {
		down()
		return 0, nil, func() {}, err
	}
	return took, sys, down, nil
}

// upBare starts the plan with start and returns how long that took and a teardown.
func upBare(ctx context.Context, start func(context.Context) (*bare.System, error)) (time.Duration, func(), error) {
	began := time.Now()
	s, err := start(ctx)
	took := time.Since(began)
	if err != nil {
		return 0, func() {}, err
	}
	return took, func() { _ = s.Close(context.WithoutCancel(ctx)) }, nil
}

// alternate measures the harness and the baseline n times each, in turns, so that a
// slow spell of a shared machine weighs on both.
func alternate(b *testing.B, n int, measured, baseline func(i int) (time.Duration, error)) (m, base []time.Duration) {
	b.Helper()
	for i := range n {
		d, err := measured(i)
		if err != nil {
			b.Fatalf("harness bring-up %d: %v", i+1, err)
		}
		m = append(m, d)
		d, err = baseline(i)
		if err != nil {
			b.Fatalf("bare bring-up %d: %v", i+1, err)
		}
		base = append(base, d)
	}
	return m, base
}

// BenchmarkBringUpLocal: harness.Up of the reference system on local processes
// (embedded Toxiproxy, supervisor, readiness) against the same binaries started with
// os/exec, each once what it needs answers, waited for on the same health paths and readiness.
func BenchmarkBringUpLocal(b *testing.B) {
	ctx := bounded(b, 10*time.Minute)
	plan, err := bare.NewPlan(reference.System())
	if err != nil {
		b.Fatal(err)
	}
	builder := build.New()
	newRT := func(context.Context) (runtime.Runtime, error) { return local.New(local.WithLogger(quiet())) }
	// Warm-up, untimed: binaries found or built, page cache warm.
	if _, _, down, err := upHarness(ctx, newRT); err != nil {
		b.Fatalf("warm-up: %v", err)
	} else {
		down()
	}
	m, base := alternate(b, localSamples,
		func(int) (time.Duration, error) {
			d, _, down, err := upHarness(ctx, newRT)
			down()
			return d, err
		},
		func(int) (time.Duration, error) {
			d, down, err := upBare(ctx, func(ctx context.Context) (*bare.System, error) { return bare.StartLocal(ctx, plan, builder) })
			down()
			return d, err
		})
	figure.Report(b, figure.Figure{
		Group: "bring-up", Name: "reference system on local processes (harness.Up, median)",
		Measured: seconds(median(m)), Baseline: seconds(median(base)),
		BaselineName: "same binaries and env, plain os/exec, each process once what it needs answers, same health and registry waits",
		Unit:         "s", Samples: localSamples,
		Note: fmt.Sprintf("harness runs %v; bare runs %v", rounded(m), rounded(base)),
	})
}

// BenchmarkBringUpDocker: harness.Up of the reference system on docker (network,
// Toxiproxy container, one container per instance through testcontainers, supervisor,
// readiness) against the same images started with the bare Docker API on a network of
// their own, each once what it needs answers, waited for on the same health paths and readiness.
func BenchmarkBringUpDocker(b *testing.B) {
	ctx := bounded(b, 10*time.Minute)
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	ok := docker.Available(actx)
	cancel()
	if !ok {
		b.Skip("docker engine not reachable: skipping the docker bring-up figures")
	}
	plan, err := bare.NewPlan(reference.System())
	if err != nil {
		b.Fatal(err)
	}
	proxy, err := build.New().Package(ctx, harness.ProxyPackage)
	if err != nil {
		b.Fatal(err)
	}
	newRT := func(id string) func(context.Context) (runtime.Runtime, error) {
		return func(ctx context.Context) (runtime.Runtime, error) {
			return docker.New(ctx, docker.WithLogger(quiet()), docker.WithProxyBinary(proxy),
				docker.WithRunID("bench-"+session+"-"+id), docker.WithoutReap())
		}
	}
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = api.Close() })

	// Warm-up, untimed: images built if the engine lacks them; read which image each
	// instance runs, so that the baseline runs the very same.
	_, sys, down, err := upHarness(ctx, newRT("warm"))
	if err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	images, err := imagesOf(ctx, api, sys)
	down()
	if err != nil {
		b.Fatal(err)
	}
	m, base := alternate(b, dockerSamples,
		func(i int) (time.Duration, error) {
			d, _, down, err := upHarness(ctx, newRT(fmt.Sprintf("h%d", i)))
			down()
			return d, err
		},
		func(i int) (time.Duration, error) {
			d, down, err := upBare(ctx, func(ctx context.Context) (*bare.System, error) {
				return bare.StartDocker(ctx, plan, bare.Docker{API: api, RunID: fmt.Sprintf("bench-%s-b%d", session, i), Images: images})
			})
			down()
			return d, err
		})
	figure.Report(b, figure.Figure{
		Group: "bring-up", Name: "reference system on docker (harness.Up, median)",
		Measured: seconds(median(m)), Baseline: seconds(median(base)),
		BaselineName: "same images and env, bare Docker API, each container once what it needs answers, same health and registry waits",
		Unit:         "s", Samples: dockerSamples,
		Note: fmt.Sprintf("harness runs %v; bare runs %v", rounded(m), rounded(base)),
	})
}

// imagesOf reads the image each instance of a harness system runs, by instance name.
func imagesOf(ctx context.Context, api client.APIClient, sys *harness.Running) (map[string]string, error) {
	insts := sys.All()
	for _, svc := range []string{"accounts", "inventory", "orders"} {
		if db := sys.Database(svc); db != nil {
			insts = append(insts, db)
		}
	}
	out := map[string]string{}
	for _, in := range insts {
		di, ok := in.Instance.(*docker.Instance)
		if !ok {
			return nil, fmt.Errorf("instance %s is a %T, not a docker instance", in.Name(), in.Instance)
		}
		res, err := api.ContainerInspect(ctx, di.ContainerID(), client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("image of %s: %w", in.Name(), err)
		}
		out[in.Name()] = res.Container.Config.Image
	}
	return out, nil
}

// rounded lists durations to a tenth of a second, for notes.
func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond)
	}
	return out
}

package docker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/docker"
)

// reapers is how many removers a test sets loose on one run at once: as many as the
// packages `go test` runs side by side on these machines, and then some.
const reapers = 4

func TestConcurrentReapersOfADeadRunAllSucceed(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, err := newRuntime(t, nil).Start(ctx, conformance.ServiceSpec("svc-1", artifact))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	image := imageOf(t, ctx, dc, in)

	run := deadRun(t, ctx, dc, image, 3)
	var racers []racer
	for i := range reapers {
		racers = append(racers, racer{fmt.Sprintf("reaper %d of %d", i+1, reapers), func() error {
			_, err := docker.ReapRun(ctx, run, slog.New(slog.DiscardHandler))
			return err
		}})
	}
	began := time.Now()
	for _, err := range together(racers) {
		t.Errorf("on dead run %s: %v", run, err)
	}
	t.Logf("%d reapers at once on dead run %s: done in %s", reapers, run, time.Since(began).Round(time.Millisecond))
	if left := runResources(t, ctx, dc, run); len(left) > 0 {
		t.Errorf("after %d reapers, dead run %s still has: %s", reapers, run, strings.Join(left, ", "))
	}
}

func TestCloseRacingReapersLeavesNothing(t *testing.T) {
	artifact := setup(t)
	t.Parallel()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt := newRuntime(t, nil)
	for i := range 2 {
		if _, err := rt.Start(ctx, conformance.ServiceSpec(fmt.Sprintf("svc-%d", i+1), artifact)); err != nil {
			t.Fatalf("start: %v", err)
		}
	}
	if _, err := rt.StartProxyHost(ctx, 2); err != nil {
		t.Fatalf("start proxy host: %v", err)
	}
	run := rt.RunID()

	// One Close, and beside it the reapers of other runs starting up (the run is alive:
	// they must leave it alone, and not fail) and `faultline clean` on the same run.
	racers := []racer{{"close", func() error { return rt.Close(ctx) }}}
	for i := range reapers {
		racers = append(racers,
			racer{fmt.Sprintf("reap run %d", i+1), func() error {
				n, err := docker.ReapRun(ctx, run, slog.New(slog.DiscardHandler))
				if err == nil && n > 0 {
					err = fmt.Errorf("removed %d resources of a live run", n)
				}
				return err
			}},
			racer{fmt.Sprintf("clean run %d", i+1), func() error {
				_, err := docker.CleanRun(ctx, run)
				return err
			}})
	}
	began := time.Now()
	for _, err := range together(racers) {
		t.Errorf("on run %s: %v", run, err)
	}
	t.Logf("close, %d reapers and %d cleaners at once on run %s: done in %s", reapers, reapers, run, time.Since(began).Round(time.Millisecond))
	if left := runResources(t, ctx, dc, run); len(left) > 0 {
		t.Errorf("after close raced reapers, run %s still has: %s", run, strings.Join(left, ", "))
	}
}

// racer is one of several callers set loose at once.
type racer struct {
	name string
	do   func() error
}

// together runs every racer in its own goroutine, all released at the same moment, and
// returns the errors they returned, each named after its racer.
func together(racers []racer) []error {
	errs := make([]error, len(racers))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := r.do(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", r.name, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// deadRun makes what a SIGKILLed run leaves: containers running image on the run's
// two networks, all labelled with the pid of a process that owned them and was killed.
// The process lives until all is made, so that the reapers of runs starting meanwhile
// (other tests' New) leave the run alone until then. Its cleanup removes whatever the
// test left of it.
func deadRun(t *testing.T, ctx context.Context, dc client.APIClient, image string, containers int) string {
	t.Helper()
	owner := exec.Command("sleep", "300")
	if err := owner.Start(); err != nil {
		t.Fatalf("start the run's owner: %v", err)
	}
	kill := sync.OnceFunc(func() { _ = owner.Process.Kill(); _ = owner.Wait() })
	defer kill()
	host, _ := os.Hostname()
	run := fmt.Sprintf("test-dead-%d", time.Now().UnixNano())
	labels := map[string]string{
		docker.LabelRun:     run,
		docker.LabelPID:     strconv.Itoa(owner.Process.Pid),
		docker.LabelStarted: strconv.FormatInt(time.Now().Unix(), 10),
		docker.LabelHost:    host,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := docker.CleanRun(ctx, run); err != nil {
			t.Errorf("clean up dead run %s: %v", run, err)
		}
	})
	nets := []string{"faultline-" + run, "faultline-" + run + "-ports"}
	for _, name := range nets {
		if _, err := dc.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
			t.Fatalf("create network %s: %v", name, err)
		}
	}
	for i := range containers {
		name := fmt.Sprintf("faultline-%s-svc-%d", run, i+1)
		c, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: name,
			Config: &container.Config{
				Image:  image,
				Labels: labels,
				Env:    []string{"LISTEN_ADDR=0.0.0.0:8080", "DATA_DIR=/data"},
			},
			HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(nets[0])},
		})
		if err != nil {
			t.Fatalf("create container %s: %v", name, err)
		}
		if _, err := dc.NetworkConnect(ctx, nets[1], client.NetworkConnectOptions{Container: c.ID, EndpointConfig: &network.EndpointSettings{}}); err != nil {
			t.Fatalf("connect %s to %s: %v", name, nets[1], err)
		}
		if _, err := dc.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("start container %s: %v", name, err)
		}
	}
	if left := runResources(t, ctx, dc, run); len(left) != containers+len(nets) {
		t.Fatalf("dead run %s holds %s, want %d containers and %d networks", run, strings.Join(left, ", "), containers, len(nets))
	}
	kill()
	return run
}

// runResources names the containers and networks labelled with run, and only those.
func runResources(t *testing.T, ctx context.Context, dc client.APIClient, run string) []string {
	t.Helper()
	filter := client.Filters{}.Add("label", docker.LabelRun+"="+run)
	cs, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		t.Fatalf("list the containers of run %s: %v", run, err)
	}
	var out []string
	for _, c := range cs.Items {
		out = append(out, fmt.Sprintf("container %s (%s)", strings.TrimPrefix(c.Names[0], "/"), c.State))
	}
	ns, err := dc.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		t.Fatalf("list the networks of run %s: %v", run, err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out
}

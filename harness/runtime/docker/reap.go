package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Reap removes the containers and networks of dead runs: those labelled faultline.run
// whose faultline.pid process no longer lives on this host. Without Ryuk this is how
// the leftovers of a run that crashed or was killed go away; New calls it.
func Reap(ctx context.Context, logger *slog.Logger) (removed int, err error) {
	api, err := connect(ctx, pingTimeout)
	if err != nil {
		return 0, err
	}
	defer api.Close()
	if logger == nil {
		logger = slog.Default()
	}
	return reap(ctx, api, logger)
}

// ReapRun is Reap for one run: it removes the containers and networks of runID only if
// the process that labelled them is dead, and leaves a live run alone. It lets a test
// play "the next run" after killing one of its own without touching other runs'.
func ReapRun(ctx context.Context, runID string, logger *slog.Logger) (removed int, err error) {
	if runID == "" {
		return 0, errors.New("reap run: the run id is empty")
	}
	api, err := connect(ctx, pingTimeout)
	if err != nil {
		return 0, err
	}
	defer api.Close()
	if logger == nil {
		logger = slog.Default()
	}
	return reapMatching(ctx, api, client.Filters{}.Add("label", LabelRun+"="+runID), logger)
}

// CleanAll removes every container and network any faultline run left, alive or not
// (for `faultline clean`). Images are kept: they are a cache keyed by content.
func CleanAll(ctx context.Context) (removed int, err error) {
	api, err := connect(ctx, pingTimeout)
	if err != nil {
		return 0, err
	}
	defer api.Close()
	return removeAll(ctx, api, client.Filters{}.Add("label", LabelRun), nil)
}

// reap removes the leftovers of every dead run.
func reap(ctx context.Context, api client.APIClient, log *slog.Logger) (int, error) {
	return reapMatching(ctx, api, client.Filters{}.Add("label", LabelRun), log)
}

// reapMatching removes what filter matches of runs whose process is dead.
func reapMatching(ctx context.Context, api client.APIClient, filter client.Filters, log *slog.Logger) (int, error) {
	host, _ := os.Hostname()
	keep := func(labels map[string]string) bool { return runAlive(labels, host) }
	n, err := removeAll(ctx, api, filter, keep)
	if n > 0 {
		log.Debug("reaped leftovers of dead runs", "removed", n)
	}
	if err != nil {
		return n, fmt.Errorf("reap: %w", err)
	}
	return n, nil
}

// runAlive reports whether the run that labelled a resource may still be alive. Anything
// it cannot judge (another host, no pid) counts as alive: reaping never guesses.
func runAlive(labels map[string]string, host string) bool {
	if h := labels[LabelHost]; h == "" || h != host {
		return true
	}
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return true
	}
	started, _ := strconv.ParseInt(labels[LabelStarted], 10, 64)
	return processAlive(pid, started)
}

// removeAll force-removes the containers (with their volumes), then the networks, that
// match filter and that keep (if given) does not keep. It goes on past errors and
// returns them all.
func removeAll(ctx context.Context, api client.APIClient, filter client.Filters, keep func(map[string]string) bool) (int, error) {
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		errs    []error
		removed int
	)
	for _, c := range cs.Items {
		if keep != nil && keep(c.Labels) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				removed++
			case cerrdefs.IsNotFound(err):
			default:
				errs = append(errs, fmt.Errorf("remove container %s: %w", containerName(c.Names, c.ID), err))
			}
		}()
	}
	wg.Wait()

	ns, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("list networks: %w", err))...)
	}
	for _, n := range ns.Items {
		if keep != nil && keep(n.Labels) {
			continue
		}
		_, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			removed++
		case cerrdefs.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return removed, errors.Join(errs...)
}

// list names the containers and networks that match filter.
func list(ctx context.Context, api client.APIClient, filter client.Filters) ([]string, error) {
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []string
	for _, c := range cs.Items {
		out = append(out, fmt.Sprintf("container %s (%s)", containerName(c.Names, c.ID), c.State))
	}
	ns, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return out, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out, nil
}

func containerName(names []string, id string) string {
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

const (
	// removeBound bounds one removal of a run's leftovers: how long it waits for what
	// another remover is removing and retries what is still busy before giving up.
	removeBound = 30 * time.Second
	// firstBackoff and maxBackoff pace those waits and retries.
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = time.Second
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
// match filter and that keep (if given) does not keep. Another remover may be at the
// same run (a second reaper, the run's own Close, `faultline clean`): what it has
// removed or is removing counts as removed, once it is gone, and what is still busy is
// retried, all within removeBound. It goes on past errors and returns them all, each
// naming its resource; removed counts only what this call removed.
func removeAll(ctx context.Context, api client.APIClient, filter client.Filters, keep func(map[string]string) bool) (removed int, err error) {
	ctx, cancel := context.WithTimeout(ctx, removeBound)
	defer cancel()
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	removed, errs := removeContainers(ctx, api, slices.DeleteFunc(cs.Items, func(c container.Summary) bool {
		return keep != nil && keep(c.Labels)
	}))
	// Only now, with every container of theirs gone, can the networks go.
	ns, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("list networks: %w", err))...)
	}
	for _, n := range ns.Items {
		if keep != nil && keep(n.Labels) {
			continue
		}
		ok, err := removeNetwork(ctx, api, n.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		} else if ok {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// removeContainers removes cs all at once and returns when each is gone or has failed.
func removeContainers(ctx context.Context, api client.APIClient, cs []container.Summary) (removed int, errs []error) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := removeContainer(ctx, api, c.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("remove container %s: %w", containerName(c.Names, c.ID), err))
			} else if ok {
				removed++
			}
		}()
	}
	wg.Wait()
	return removed, errs
}

// removeContainer force-removes a container with its volumes and returns once it is
// gone, whoever removed it; removed says whether this call did. While another remover
// is at it, it waits for that one to finish, and takes over should it give up.
func removeContainer(ctx context.Context, api client.APIClient, id string) (removed bool, err error) {
	err = retry(ctx, func() (busy bool, err error) {
		_, err = api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed = true
			return false, nil
		case cerrdefs.IsNotFound(err):
			return false, nil
		case removalInProgress(err):
			if containerGone(ctx, api, id) {
				return false, nil
			}
			return true, err
		}
		return false, err
	})
	return removed, err
}

// containerGone polls until the container is gone (true), or until no removal of it is
// in progress any more or ctx ends (false).
func containerGone(ctx context.Context, api client.APIClient, id string) bool {
	gone := false
	_ = retry(ctx, func() (busy bool, err error) {
		res, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			gone = true
			return false, nil
		case err != nil:
			return false, err
		}
		if res.Container.State != nil && res.Container.State.Status == container.StateRemoving {
			return true, errStillRemoving
		}
		return false, nil
	})
	return gone
}

// removeNetwork removes a network and returns once it is gone, whoever removed it;
// removed says whether this call did. While containers are still leaving it (another
// remover's, or a start's that Close cancelled) it tries again.
func removeNetwork(ctx context.Context, api client.APIClient, id string) (removed bool, err error) {
	err = retry(ctx, func() (busy bool, err error) {
		_, err = api.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			removed = true
			return false, nil
		case cerrdefs.IsNotFound(err):
			return false, nil
		}
		return hasActiveEndpoints(err), err
	})
	return removed, err
}

// retry calls attempt until it is no longer busy, pausing between calls (from
// firstBackoff, doubling up to maxBackoff), and returns its last error. When ctx ends
// while attempt is still busy, the error says so and keeps attempt's last error.
func retry(ctx context.Context, attempt func() (busy bool, err error)) error {
	pause := firstBackoff
	for {
		busy, err := attempt()
		if !busy {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still busy when giving up (%w): %w", context.Cause(ctx), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, maxBackoff)
	}
}

// errStillRemoving is what containerGone's polls report while a removal is under way.
var errStillRemoving = errors.New("its removal is still in progress")

// removalInProgress reports whether the engine refused a removal because another one of
// the same container is under way. The engine says so with a Conflict, the same type
// as its other refusals (a running container without force, say), so only its message
// ("removal of container … is already in progress", moby's daemon/delete.go) tells
// them apart: it is matched narrowly, on a Conflict only.
func removalInProgress(err error) bool {
	return cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "is already in progress")
}

// hasActiveEndpoints reports whether the engine refused to remove a network because
// containers are still on it. The engine says so with a Forbidden (PermissionDenied
// here), the same type as its refusal to remove a predefined network, so only its
// message (libnetwork's ActiveEndpointsError) tells them apart.
func hasActiveEndpoints(err error) bool {
	return cerrdefs.IsPermissionDenied(err) && strings.Contains(err.Error(), "has active endpoints")
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

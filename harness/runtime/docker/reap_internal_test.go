package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// The engine's refusals, as the client hands them over: a type, and a message that
// alone tells "busy" from the other refusals of that type.
var (
	errInProgress      = fmt.Errorf("%w: removal of container c1 is already in progress", cerrdefs.ErrConflict)
	errRunning         = fmt.Errorf("%w: you cannot remove a running container c1", cerrdefs.ErrConflict)
	errActiveEndpoints = fmt.Errorf("%w: error while removing network: network n1 id 1 has active endpoints", cerrdefs.ErrPermissionDenied)
	errPredefined      = fmt.Errorf("%w: bridge is a pre-defined network and cannot be removed", cerrdefs.ErrPermissionDenied)
	errGone            = fmt.Errorf("%w: no such container", cerrdefs.ErrNotFound)
)

func TestBusyIsToldApartFromOtherRefusals(t *testing.T) {
	if !removalInProgress(errInProgress) || removalInProgress(errRunning) || removalInProgress(errors.New("removal of container c1 is already in progress")) {
		t.Errorf("removalInProgress: want true only for a Conflict saying the removal is in progress")
	}
	if !hasActiveEndpoints(errActiveEndpoints) || hasActiveEndpoints(errPredefined) {
		t.Errorf("hasActiveEndpoints: want true only for a Forbidden saying the network has active endpoints")
	}
}

func TestRemoveAllWaitsForOtherRemoversAndRetriesWhatIsBusy(t *testing.T) {
	removing := &container.State{Status: container.StateRemoving}
	for _, tc := range []struct {
		name string
		// What the engine answers, call after call (the last answer repeats).
		remove   []error
		inspect  []*container.State // nil: no such container
		netRm    []error
		bound    time.Duration
		removed  int
		wantErrs []string // each a part of the error; none: no error
	}{
		{name: "another remover is at it, and the network waits for its container",
			remove: []error{errInProgress}, inspect: []*container.State{removing, removing, nil},
			netRm: []error{errActiveEndpoints, errActiveEndpoints, nil}, removed: 1},
		{name: "another remover gave up half-way: this one takes over",
			remove: []error{errInProgress, nil}, inspect: []*container.State{removing, {Status: container.StateDead}},
			netRm: []error{nil}, removed: 2},
		{name: "another remover got there first",
			remove: []error{errGone}, netRm: []error{fmt.Errorf("%w: network n1 not found", cerrdefs.ErrNotFound)}},
		{name: "another refusal is an error at once, naming the container",
			remove: []error{errRunning}, netRm: []error{nil}, removed: 1,
			wantErrs: []string{"remove container faultline-r-svc-1: ", "you cannot remove a running container"}},
		{name: "still busy after the bound: the error names the network and what kept it",
			remove: []error{nil}, netRm: []error{errActiveEndpoints}, bound: 300 * time.Millisecond, removed: 1,
			wantErrs: []string{"remove network faultline-r: still busy when giving up", "has active endpoints"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &fakeEngine{remove: tc.remove, inspect: tc.inspect, netRm: tc.netRm}
			ctx := context.Background()
			if tc.bound > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.bound)
				defer cancel()
			}
			n, err := removeAll(ctx, e, client.Filters{}, nil)
			if n != tc.removed {
				t.Errorf("removed %d, want %d", n, tc.removed)
			}
			switch {
			case len(tc.wantErrs) == 0 && err != nil:
				t.Errorf("error: %v, want none", err)
			case len(tc.wantErrs) > 0 && err == nil:
				t.Errorf("no error, want one saying %q", tc.wantErrs)
			}
			for _, want := range tc.wantErrs {
				if err != nil && !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// fakeEngine plays an engine holding one container (c1, faultline-r-svc-1) on one network
// (n1, faultline-r), answering removals and inspections from a script. Any other call
// panics on the nil APIClient.
type fakeEngine struct {
	client.APIClient
	mu      sync.Mutex
	remove  []error
	inspect []*container.State
	netRm   []error
}

// next pops the next answer of a script, keeping the last one for every later call.
func next[T any](mu *sync.Mutex, script *[]T) T {
	mu.Lock()
	defer mu.Unlock()
	var v T
	if len(*script) > 0 {
		v = (*script)[0]
	}
	if len(*script) > 1 {
		*script = (*script)[1:]
	}
	return v
}

func (e *fakeEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{{ID: "c1", Names: []string{"/faultline-r-svc-1"}}}}, nil
}

func (e *fakeEngine) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	return client.ContainerRemoveResult{}, next(&e.mu, &e.remove)
}

func (e *fakeEngine) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	st := next(&e.mu, &e.inspect)
	if st == nil {
		return client.ContainerInspectResult{}, errGone
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{State: st}}, nil
}

func (e *fakeEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{Items: []network.Summary{{Network: network.Network{ID: "n1", Name: "faultline-r"}}}}, nil
}

func (e *fakeEngine) NetworkRemove(context.Context, string, client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	return client.NetworkRemoveResult{}, next(&e.mu, &e.netRm)
}

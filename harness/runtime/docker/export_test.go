package docker

import (
	"context"

	"github.com/moby/moby/client"
)

// CleanRun is CleanAll for one run, alive or not: the tests race it against a run's own
// Close without touching any other run on the engine.
func CleanRun(ctx context.Context, runID string) (removed int, err error) {
	api, err := connect(ctx, pingTimeout)
	if err != nil {
		return 0, err
	}
	defer api.Close()
	return removeAll(ctx, api, client.Filters{}.Add("label", LabelRun+"="+runID), nil)
}

package report

import (
	"slices"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
)

// Second is one second of a scenario's window, as the timeline chart shows it.
type Second struct {
	// At is the second's start, relative to the window's start.
	At time.Duration
	// Ops counts the operations intended to start in it, but those the run's own stop
	// cancelled (check.Counted); OK those that were served.
	Ops, OK int
	// ErrorRate is the share of Ops not served (check.OK), 0..1.
	ErrorRate float64
	// P50 and P99 are latencies from intended start to end, over the second's operations.
	P50, P99 time.Duration
}

// Timeline buckets the operations of h whose intended start falls in w into whole
// seconds; a trailing fraction of a second is left out, since its few operations would
// read as a drop in throughput. Seconds without operations are kept, with zero figures,
// so that an outage shows as a gap in throughput rather than vanishing from the chart.
func Timeline(h *history.History, w check.Window) []Second {
	if h == nil || w.To <= w.From {
		return nil
	}
	n := max(int((w.To-w.From)/time.Second), 1)
	lat := make([][]time.Duration, n)
	out := make([]Second, n)
	for i := range out {
		out[i].At = time.Duration(i) * time.Second
	}
	for _, op := range check.Select(h, check.Selection{Window: w}) {
		i := int((op.Intended - w.From) / time.Second)
		if i < 0 || i >= n || !check.Counted(op) {
			continue
		}
		out[i].Ops++
		if check.OK(op) {
			out[i].OK++
		}
		lat[i] = append(lat[i], op.End-op.Intended)
	}
	for i := range out {
		if out[i].Ops == 0 {
			continue
		}
		out[i].ErrorRate = 1 - float64(out[i].OK)/float64(out[i].Ops)
		slices.Sort(lat[i])
		out[i].P50 = quantile(lat[i], 0.50)
		out[i].P99 = quantile(lat[i], 0.99)
	}
	return out
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

package check

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline/faultline/harness/history"
)

// Percentiles are latency percentiles of a selection.
type Percentiles struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

// Histogram records the latency (from intended start to end) of the served operations of
// sel in an HDR histogram, from 1 µs to 5 minutes at 3 significant digits.
func Histogram(h *history.History, sel Selection) *hdrhistogram.Histogram {
	hist := hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
	for _, op := range Select(h, sel) {
		if OK(op) {
			_ = hist.RecordValue(max(int64(latency(op)/time.Microsecond), 1))
		}
	}
	return hist
}

// LatencyOf returns the percentiles of the served operations of sel.
func LatencyOf(h *history.History, sel Selection) Percentiles {
	hist := Histogram(h, sel)
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Percentiles{
		Count: int(hist.TotalCount()),
		P50:   us(hist.ValueAtQuantile(50)), P90: us(hist.ValueAtQuantile(90)),
		P99: us(hist.ValueAtQuantile(99)), Max: us(hist.Max()),
	}
}

// Latency measures p50/p90/p99/max of the served operations of sel and passes when p99
// is at most maxP99. With maxP99 zero there is no bound to judge, so the result is
// informative: the percentiles are reported as figures, never counted as a check. With
// a bound, a selection without served operations fails.
func Latency(h *history.History, sel Selection, maxP99 time.Duration) Result {
	p := LatencyOf(h, sel)
	r := Result{Check: "latency", Window: sel.Window, Figures: []Figure{
		{Name: "count", Value: float64(p.Count)},
		{Name: "p50", Value: msf(p.P50), Unit: "ms"}, {Name: "p90", Value: msf(p.P90), Unit: "ms"},
		{Name: "p99", Value: msf(p.P99), Unit: "ms"}, {Name: "max", Value: msf(p.Max), Unit: "ms"},
	}}
	if maxP99 > 0 {
		r.Bound = "p99 ≤ " + ms(maxP99)
	}
	if p.Count == 0 {
		r.Message = fmt.Sprintf("latency: no served operation %s in %s: nothing to measure", routesText(sel), sel.Window)
	} else {
		r.Pass = p.P99 <= maxP99
		r.Message = fmt.Sprintf("latency p50 %s p99 %s max %s over %d served ops %s in %s", ms(p.P50), ms(p.P99), ms(p.Max), p.Count, routesText(sel), sel.Window)
		if maxP99 > 0 {
			r.Message += fmt.Sprintf(": p99 %s the bound %s", cmpWord(r.Pass), r.Bound)
		}
	}
	if maxP99 == 0 {
		return Informative(r)
	}
	return r
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

package check

import (
	"fmt"
	"slices"
	"strings"
)

// NoLoss checks that every acknowledged write is still there after the run: acked are
// the writes' ids the system acknowledged, present tells whether one is visible now.
func NoLoss(acked []string, present func(id string) bool) Result {
	var lost []string
	for _, id := range acked {
		if !present(id) {
			lost = append(lost, id)
		}
	}
	slices.Sort(lost)
	r := Result{Check: "no acknowledged write lost", Bound: "0 lost", Window: Window{Name: "after the run"}, Figures: []Figure{
		{Name: "acknowledged", Value: float64(len(acked))}, {Name: "lost", Value: float64(len(lost))},
	}}
	r.Pass = len(lost) == 0 && len(acked) > 0
	switch {
	case len(acked) == 0:
		r.Message = "no write was acknowledged: nothing proves durability"
	case r.Pass:
		r.Message = fmt.Sprintf("all %d acknowledged writes are present", len(acked))
	default:
		shown := lost[:min(len(lost), 10)]
		r.Message = fmt.Sprintf("%d of %d acknowledged writes are lost: %s", len(lost), len(acked), strings.Join(shown, ", "))
	}
	return r
}

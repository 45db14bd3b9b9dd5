package check

import (
	"context"
	"fmt"
	"strings"
)

// Probe is one observation of a steady state, Chaos-Toolkit style: it returns nil when
// what it looks at is as it should be.
type Probe struct {
	Name string
	Run  func(ctx context.Context) error
}

// Hypothesis is a steady state: probes that must all hold before a fault is injected
// and again after it is healed.
type Hypothesis struct {
	Name   string
	Probes []Probe
}

// Verify runs every probe (this is the one checker that looks at the live system, not
// at a history) and reports which held. phase names when ("before", "after").
func (hy Hypothesis) Verify(ctx context.Context, phase string) Result {
	r := Result{Check: "steady state " + phase, Window: Window{Name: phase}, Bound: "every probe holds"}
	var failed []string
	for _, p := range hy.Probes {
		if err := p.Run(ctx); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", p.Name, err))
		}
	}
	r.Figures = []Figure{{Name: "probes", Value: float64(len(hy.Probes))}, {Name: "held", Value: float64(len(hy.Probes) - len(failed))}}
	r.Pass = len(failed) == 0 && len(hy.Probes) > 0
	switch {
	case len(hy.Probes) == 0:
		r.Message = fmt.Sprintf("steady state %q %s: no probe declared", hy.Name, phase)
	case r.Pass:
		r.Message = fmt.Sprintf("steady state %q holds %s the fault (%d probes)", hy.Name, phase, len(hy.Probes))
	default:
		r.Message = fmt.Sprintf("steady state %q does not hold %s the fault: %s", hy.Name, phase, strings.Join(failed, "; "))
	}
	return r
}

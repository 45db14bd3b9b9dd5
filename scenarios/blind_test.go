package scenarios_test

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/reference"
)

// blind is the proof that a scenario is not blind: the reference system with one
// property broken on purpose (by an environment switch kept out of the shipped
// defaults), on which the scenario's checks must fail.
type blind struct {
	// property names what is broken ("gateway retries").
	property string
	// breaks is the switch that breaks it.
	breaks reference.Option
	// scenario is the scenario that must notice.
	scenario scenario
}

// blinds lists every proof, one per property.
var blinds = slices.Concat(
	[]blind{{property: "gateway retries", breaks: reference.WithEnv("gateway", "GATEWAY_RETRIES", "0"), scenario: failover}},
	trafficBlind,
	sagaBlind,
	stateBlind,
	durabilityBlind,
)

var _ = Describe("the suites are not blind", Label("blind", "local"), func() {
	for _, b := range blinds {
		It(fmt.Sprintf("%q goes red when %s is broken on purpose", b.scenario.hypothesis, b.property), func(ctx SpecContext) {
			skipUnlessWanted(ctx, "local")
			e := &env{backend: "local"}
			e.up(ctx, b.breaks)
			// An experiment that passes only when one of its checks goes red.
			x := e.start(ctx, experiment.Config{Hypothesis: CurrentSpecReport().LeafNodeText, Broken: b.property})
			b.scenario.body(ctx, e, x)
		}, NodeTimeout(4*time.Minute))
	}
})

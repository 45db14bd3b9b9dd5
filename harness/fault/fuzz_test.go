package fault_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/netfault"
)

// FuzzSchedule feeds the schedule drawer arbitrary kinds, sizes, windows and seeds (its
// seed corpus is testdata/fuzz/FuzzSchedule). It must never panic; a refusal must be a
// *ParamError or ErrNothingToDraw; and a schedule it draws must be valid (every fault's
// parameters good, steps apart, inside the window) and the same again from the same seed.
func FuzzSchedule(f *testing.F) {
	f.Add("latency,kill", int64(7), 8, int64(60_000))
	f.Add("", int64(1), 1, int64(1_000))
	f.Add("partition", int64(-5), 3, int64(3_000))
	f.Add("meteor", int64(0), 1, int64(1_000))
	f.Fuzz(func(t *testing.T, kinds string, seed int64, n int, windowMS int64) {
		c := fault.NewCatalog()
		if kinds != "" {
			var err error
			if c, err = c.Only(strings.Split(kinds, ",")...); err != nil {
				var pe *fault.ParamError
				if !errors.As(err, &pe) {
					t.Fatalf("Only(%q) = %v, want a *ParamError", kinds, err)
				}
				return
			}
		}
		window := time.Duration(windowMS) * time.Millisecond
		if windowMS > int64(time.Duration(1<<62)/time.Millisecond) || windowMS < -int64(time.Duration(1<<62)/time.Millisecond) {
			window = time.Duration(windowMS) // keep the product in range; still arbitrary
		}
		link := func() *netfault.Link { return &netfault.Link{} } // only drawn over, never reached
		targets := fault.Targets{
			Links:     []*netfault.Link{link(), link()},
			HTTPLinks: []*netfault.Link{link()},
			Instances: instances("a-1", "a-2", "b-1"),
			Peers:     map[[2]string]*netfault.Link{{"a-1", "a-2"}: link(), {"a-2", "a-1"}: link()},
		}
		s, err := c.Schedule(seed, n, window, targets)
		if err != nil {
			var pe *fault.ParamError
			if !errors.As(err, &pe) && !errors.Is(err, fault.ErrNothingToDraw) {
				t.Fatalf("Schedule(%d, %d, %v) = %v, want a *ParamError or ErrNothingToDraw", seed, n, window, err)
			}
			return
		}
		if len(s) != n {
			t.Fatalf("%d steps, want %d", len(s), n)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("the drawer made a schedule its own Validate refuses: %v\n%s", err, s)
		}
		if last := s[len(s)-1]; last.At+last.For > window {
			t.Fatalf("last step ends at %v, after the %v window", last.At+last.For, window)
		}
		again, err := c.Schedule(seed, n, window, targets)
		if err != nil || again.String() != s.String() {
			t.Fatalf("same seed, different schedule (%v):\n%s\nvs\n%s", err, s, again)
		}
	})
}

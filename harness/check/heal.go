package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Healing reports, as figures, how long the harness spent healing faults: from the
// first FaultHeal event of any of the named faults at or after from, to the last event
// that ended one of those heals (FaultHealed, or the FaultError of a heal that failed).
// A kill's heal starts the instance and waits for it to answer, so this is time the
// harness spent, not time the system took; Recover from the heal's start measures the
// latter. It is informative: a heal's duration is the harness's, and nothing bounds it.
func Healing(h *history.History, from time.Duration, faults ...string) Result {
	r := Result{Check: "healing", Informative: true}
	start, end := time.Duration(-1), time.Duration(-1)
	healing := map[string]bool{} // heal started, not yet ended
	healed := 0
	for _, e := range h.Events() {
		if e.At < from || !slices.Contains(faults, e.Fault) {
			continue
		}
		switch {
		case e.Kind == history.FaultHeal && !healing[e.Fault]:
			healing[e.Fault] = true
			if start < 0 {
				start = e.At
			}
		case healing[e.Fault] && (e.Kind == history.FaultHealed || e.Kind == history.FaultError):
			delete(healing, e.Fault)
			end = max(end, e.At)
			if e.Kind == history.FaultHealed {
				healed++
			}
		}
	}
	names := strings.Join(faults, ", ")
	if start < 0 {
		r.Window = Window{Name: "heal of " + names, From: from, To: from}
		r.Figures = []Figure{{Name: "faults", Value: float64(len(faults))}, {Name: "healed", Value: 0}}
		r.Message = fmt.Sprintf("no heal of %s was recorded after %.1fs", names, from.Seconds())
		return r
	}
	if end < 0 {
		r.Window = Window{Name: "heal of " + names, From: start, To: start}
		r.Figures = []Figure{{Name: "faults", Value: float64(len(faults))}, {Name: "healed", Value: 0}}
		r.Message = fmt.Sprintf("the heal of %s began at %.1fs and was not seen to end", names, start.Seconds())
		return r
	}
	d := end - start
	r.Window = Window{Name: "heal of " + names, From: start, To: end}
	r.Figures = []Figure{
		{Name: "heal_time", Value: msf(d), Unit: "ms"},
		{Name: "faults", Value: float64(len(faults))},
		{Name: "healed", Value: float64(healed)},
	}
	r.Message = fmt.Sprintf("the harness spent %s healing %s (%d of %d seen healed), from its heal's start to its end", ms(d), names, healed, len(faults))
	return r
}

// SelfHealing reports, as figures, how a killed instance came back by itself, each
// measured from its kill at killedAt: time_to_restart to the supervisor's restart of
// it (the first history.Restart event for it at or after the kill), time_to_register
// to registeredAt (when it was seen registering with the registry again, on the run's
// clock; 0 when it was not seen), and time_to_serve to the end of the first operation
// it served (ServedBy, check.OK) that started after its restart; when no operation
// records ServedBy it says that it cannot tell. These say how self-healing went; the
// bounds on it are other checks' (a time to rejoin, availability meanwhile), so the
// result is informative.
func SelfHealing(h *history.History, instance string, killedAt, registeredAt time.Duration) Result {
	r := Result{Check: "self-healing of " + instance, Informative: true,
		Window: Window{Name: "after the kill of " + instance, From: killedAt, To: killedAt}}
	restartAt := time.Duration(-1)
	for _, e := range h.Events() {
		if e.Kind == history.Restart && e.Target == instance && e.At >= killedAt {
			restartAt = e.At
			break
		}
	}
	if restartAt < 0 {
		r.Figures = []Figure{{Name: "restarted", Value: 0}}
		r.Message = fmt.Sprintf("the supervisor did not restart %s after its kill at %.1fs", instance, killedAt.Seconds())
		return r
	}
	r.Figures = []Figure{{Name: "restarted", Value: 1}, {Name: "time_to_restart", Value: msf(restartAt - killedAt), Unit: "ms"}}
	parts := []string{"restarted " + ms(restartAt-killedAt)}
	r.Window.To = restartAt
	if registeredAt > 0 {
		r.Figures = append(r.Figures, Figure{Name: "time_to_register", Value: msf(registeredAt - killedAt), Unit: "ms"})
		parts = append(parts, "registered again "+ms(registeredAt-killedAt))
		r.Window.To = max(r.Window.To, registeredAt)
	} else {
		parts = append(parts, "not seen registering again")
	}
	first, named := time.Duration(-1), false
	for _, op := range h.Ops() {
		named = named || op.ServedBy != ""
		if op.ServedBy == instance && op.Start >= restartAt && OK(op) && (first < 0 || op.End < first) {
			first = op.End
		}
	}
	if first >= 0 {
		r.Figures = append(r.Figures, Figure{Name: "time_to_serve", Value: msf(first - killedAt), Unit: "ms"})
		parts = append(parts, "served its first request "+ms(first-killedAt))
		r.Window.To = max(r.Window.To, first)
	} else if !named {
		parts = append(parts, "whether it served again is unknown: no operation says which instance served it (ServedBy is empty)")
	} else {
		parts = append(parts, "served nothing since")
	}
	r.Window.To++ // the window holds its last moment
	r.Message = fmt.Sprintf("%s after its kill: %s", instance, strings.Join(parts, ", "))
	return r
}

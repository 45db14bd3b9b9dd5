package report

// Score is the run's resilience score and the counts it is computed from.
//
// The score is the share of scenarios that passed among those that ran, in percent:
// 100 × passed / (passed + failed). Skipped scenarios do not count either way, and a
// run where nothing ran scores 0. Every scenario weighs the same, because each is one
// hypothesis about the system that either held or did not; the share of passing checks
// is reported beside it (ChecksPassed of Checks) to show how close a failing run came.
// Only checks count there: informative results (figures nobody bounds) cannot fail, and
// counting them would make a run look closer to green than it is. Nor do the checks of a
// proof that they are not blind (Scenario.Broken), which must go red.
type Score struct {
	Value        float64 `json:"value"`
	Passed       int     `json:"passed"`
	Failed       int     `json:"failed"`
	Skipped      int     `json:"skipped"`
	Checks       int     `json:"checks"`
	ChecksPassed int     `json:"checks_passed"`
}

// ScoreOf computes a run's Score.
func ScoreOf(run Run) Score {
	var s Score
	for _, sc := range run.Scenarios {
		switch sc.Verdict {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		default:
			s.Skipped++
			continue
		}
		if sc.Broken != "" {
			continue
		}
		for _, c := range sc.Normalize().Checks {
			s.Checks++
			if c.Pass {
				s.ChecksPassed++
			}
		}
	}
	if ran := s.Passed + s.Failed; ran > 0 {
		s.Value = 100 * float64(s.Passed) / float64(ran)
	}
	return s
}

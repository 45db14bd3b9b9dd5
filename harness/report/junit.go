package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML: one testsuite per backend, one testcase per scenario,
// whose failure message names the failed checks with figure against bound. Its output
// lists the checks (PASS or FAIL) and then the figures reported without a bound (INFO).
func WriteJUnit(w io.Writer, run Run) error {
	run = normalized(run)
	out := junitSuites{Name: "faultline", Time: secs(run.Duration.Seconds())}
	index := map[string]int{}
	for _, s := range run.Scenarios {
		i, ok := index[s.Backend]
		if !ok {
			i = len(out.Suites)
			index[s.Backend] = i
			out.Suites = append(out.Suites, junitSuite{Name: "faultline " + s.Backend})
		}
		suite := &out.Suites[i]
		c := junitCase{Name: s.Hypothesis, Classname: "faultline." + s.Backend, Time: secs(s.Duration.Seconds()),
			SystemOut: strings.TrimSpace(s.Checks.String() + s.Figures.String())}
		suite.Tests++
		out.Tests++
		switch s.Verdict {
		case Fail:
			suite.Failures++
			out.Failures++
			var msgs, text []string
			for _, r := range s.Checks.Failed() {
				msgs = append(msgs, fmt.Sprintf("%s: %s against %s", r.Check, figuresText(r.Figures), orDash(r.Bound)))
				text = append(text, r.String())
				for _, a := range r.Artifacts {
					if a.File != "" {
						text = append(text, fmt.Sprintf("%s: %s (beside the report)", a.Name, a.File))
					}
				}
			}
			if len(msgs) == 0 {
				msgs = append(msgs, firstLine(s.Failure))
			}
			text = append(text, s.Failure)
			if s.Replay != "" {
				text = append(text, "replay: "+s.Replay)
			}
			c.Failure = &junitFailure{Message: strings.Join(msgs, "; "), Type: "resilience", Text: strings.Join(text, "\n")}
		case Pass:
		default:
			suite.Skipped++
			out.Skipped++
			c.Skipped = &struct{}{}
		}
		suite.Cases = append(suite.Cases, c)
	}
	for i := range out.Suites {
		var t float64
		for _, s := range run.Scenarios {
			if "faultline "+s.Backend == out.Suites[i].Name {
				t += s.Duration.Seconds()
			}
		}
		out.Suites[i].Time = secs(t)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }

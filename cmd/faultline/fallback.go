package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/report"
)

// ginkgoJUnit is the part of Ginkgo's JUnit report runFromJUnit reads.
type ginkgoJUnit struct {
	Suites []struct {
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string  `xml:"name,attr"`
			Status  string  `xml:"status,attr"`
			Time    float64 `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// ginkgoSpec reads "[It] on local failover: … [local, failover]".
var ginkgoSpec = regexp.MustCompile(`^\[It\] on (\S+) (.*?)(?: \[([^\]]*)\])?$`)

// runFromJUnit rebuilds what it can of a run from Ginkgo's JUnit report, for when the
// suite was stopped before it saved scenarios.json (an interrupt skips AfterSuite):
// every scenario that ran, with its verdict and failure message, but no checks, faults
// or charts. Scenarios that did not run are left out, as the collector leaves them out.
func runFromJUnit(path string, started time.Time) (report.Run, error) {
	run := report.Run{SchemaVersion: report.SchemaVersion, StartedAt: started, Duration: time.Since(started)}
	b, err := os.ReadFile(path)
	if err != nil {
		return run, fmt.Errorf("read Ginkgo's report: %w", err)
	}
	var doc ginkgoJUnit
	if err := xml.Unmarshal(b, &doc); err != nil {
		return run, fmt.Errorf("read Ginkgo's report %s: %w", path, err)
	}
	for _, suite := range doc.Suites {
		for _, p := range suite.Properties {
			if p.Name == "RandomSeed" && run.Seed == 0 {
				run.Seed, _ = strconv.ParseUint(p.Value, 10, 64)
			}
		}
		for _, c := range suite.Cases {
			m := ginkgoSpec.FindStringSubmatch(c.Name)
			if m == nil || c.Status == "skipped" || c.Status == "pending" {
				continue
			}
			s := report.Scenario{ID: m[1] + "/" + m[2], Hypothesis: m[2], Backend: m[1], Verdict: report.Fail,
				History: report.HistoryFile(m[1]), Duration: time.Duration(c.Time * float64(time.Second))}
			if m[3] != "" {
				s.Labels = strings.Split(m[3], ", ")
			}
			switch {
			case c.Status == "passed":
				s.Verdict = report.Pass
			case c.Failure != nil:
				s.Failure = c.Status + ": " + c.Failure.Message
			case c.Error != nil:
				s.Failure = c.Status + ": " + c.Error.Message
			default:
				s.Failure = c.Status
			}
			run.Scenarios = append(run.Scenarios, s)
		}
	}
	return run, nil
}

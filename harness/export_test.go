package harness

import "time"

// SetBuildNotice sets how long a build runs before Up says so, until restore is called.
func SetBuildNotice(d time.Duration) (restore func()) {
	old := buildNotice
	buildNotice = d
	return func() { buildNotice = old }
}

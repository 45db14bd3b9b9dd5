//go:build !unix

package micro

import "time"

// cpuTime is zero where getrusage is missing: figures built on it read zero there.
func cpuTime() time.Duration { return 0 }

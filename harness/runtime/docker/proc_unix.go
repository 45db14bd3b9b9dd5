//go:build unix

package docker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processAlive reports whether pid is a live process that started no later than the
// run it labelled (startedUnix): a pid the kernel has since given to another process
// counts as dead.
func processAlive(pid int, startedUnix int64) bool {
	if pid == os.Getpid() {
		return true
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if began, ok := processStart(pid); ok && startedUnix > 0 && began > startedUnix+2 {
		return false // the pid was reused
	}
	return true
}

// processStart is the unix time a process started, from /proc (Linux only).
func processStart(pid int) (int64, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses: fields after it
	// start after the last ')'. starttime is field 22, in clock ticks since boot.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return 0, false
	}
	boot, ok := bootTime()
	if !ok {
		return 0, false
	}
	const userHZ = 100 // USER_HZ: what /proc counts in on every Linux ABI
	return boot + ticks/userHZ, true
}

func bootTime() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			t, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return t, err == nil
		}
	}
	return 0, false
}

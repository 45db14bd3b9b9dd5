package local

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownerFile, in a run directory New made, names the process that owns the run, so that
// the next run can tell a dead run's directory from a live one's (see Reap).
const ownerFile = ".faultline-owner"

// dirPrefix starts the name of every run directory New makes under os.TempDir().
const dirPrefix = "faultline-"

// Reap removes the run directories that runs whose process is dead left under
// os.TempDir(): a run killed with SIGKILL never gets to its Close. The children of such
// a run died with it (Pdeathsig); its directory, with the instances' data and logs, is
// all that stays. Only directories that New made and marked with their owner are
// touched, and only once that owner is gone: reaping never guesses. New calls it.
func Reap(logger *slog.Logger) (removed int, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return 0, fmt.Errorf("reap local runs: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		pid, started, ok := readOwner(dir)
		if !ok || ownerAlive(pid, started) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("reap local run directory %s: %w", dir, err))
			continue
		}
		logger.Debug("reaped the directory of a dead local run", "dir", dir, "pid", pid)
		removed++
	}
	if n := reapPorts(); n > 0 {
		logger.Debug("released the ports dead local runs had reserved", "ports", n)
	}
	return removed, errors.Join(errs...)
}

// writeOwner marks dir as owned by this process.
func writeOwner(dir string) error {
	started, _ := processStart(os.Getpid())
	line := fmt.Sprintf("pid=%d start=%d\n", os.Getpid(), started)
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(line), 0o644); err != nil {
		return fmt.Errorf("mark run directory %s with its owner: %w", dir, err)
	}
	return nil
}

// readOwner reads the owner of a run directory; ok is false where there is none.
func readOwner(dir string) (pid int, started int64, ok bool) {
	return readOwnerFile(filepath.Join(dir, ownerFile))
}

// readOwnerFile reads an owner file ("pid=N start=T"); ok is false where there is none.
func readOwnerFile(path string) (pid int, started int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			pid, _ = strconv.Atoi(v)
		case "start":
			started, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return pid, started, pid > 0
}

// ownerAlive reports whether the process pid that started at started (clock ticks after
// boot, 0 if unknown) still lives. A pid the kernel has given to another process since
// counts as dead; where /proc cannot say, the owner counts as alive.
func ownerAlive(pid int, started int64) bool {
	if pid == os.Getpid() {
		return true
	}
	now, ok := processStart(pid)
	if !ok {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			return true // no /proc here: cannot judge
		}
		return false // /proc works and has no such process
	}
	return started == 0 || now == started
}

// processStart is the time a process started, in clock ticks after boot, from
// /proc/<pid>/stat (Linux); ok is false where it cannot be read.
func processStart(pid int) (int64, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses: the fields after it
	// start after the last ')'. starttime is field 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return 0, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	return ticks, err == nil
}

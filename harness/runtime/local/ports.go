package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// portsDir holds one file per loopback port a live local run has drawn, named by the
// port and holding its owner, like a run directory's owner file. Two runs on one machine
// (two test packages, a CI job and a laptop's `make run`) draw from the same range, and
// a port is only bound while its instance or proxy listens: while an instance restarts,
// or a proxy listens again after a change of upstream or a disable, a bind check alone
// would let another run take it. The file reserves it for as long as its owner lives.
func portsDir() string { return filepath.Join(os.TempDir(), "faultline-ports") }

// reservePort claims port for this process; false when a live run holds it already.
// A reservation whose owner is dead is taken over. Where the directory cannot be used
// at all, the port is taken on the bind check alone (true), as before reservations.
func reservePort(port int) bool {
	dir := portsDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true
	}
	path := filepath.Join(dir, strconv.Itoa(port))
	started, _ := processStart(os.Getpid())
	owner := fmt.Appendf(nil, "pid=%d start=%d\n", os.Getpid(), started)
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_, werr := f.Write(owner)
			if cerr := f.Close(); werr != nil || cerr != nil {
				os.Remove(path)
				return true
			}
			return true
		}
		if !errors.Is(err, fs.ErrExist) {
			return true
		}
		pid, start, ok := readOwnerFile(path)
		if ok && ownerAlive(pid, start) {
			return false
		}
		if !ok {
			// Being written by its owner this very moment: leave it, unless it is old
			// enough to be the remains of a writer that died.
			if fi, err := os.Stat(path); err != nil || time.Since(fi.ModTime()) < time.Minute {
				return false
			}
		}
		os.Remove(path) // a dead run's: take it over
	}
	return false
}

// releasePort gives a reservation of this process back.
func releasePort(port int) {
	path := filepath.Join(portsDir(), strconv.Itoa(port))
	if pid, _, ok := readOwnerFile(path); ok && pid == os.Getpid() {
		os.Remove(path)
	}
}

// reapPorts removes the reservations of dead runs.
func reapPorts() (removed int) {
	entries, err := os.ReadDir(portsDir())
	if err != nil {
		return 0
	}
	for _, e := range entries {
		path := filepath.Join(portsDir(), e.Name())
		if pid, start, ok := readOwnerFile(path); ok && !ownerAlive(pid, start) {
			if os.Remove(path) == nil {
				removed++
			}
		}
	}
	return removed
}

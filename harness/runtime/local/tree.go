package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procID names one process for as long as it lives: its pid and its start time (a pid
// can be reused; the pair cannot).
type procID struct {
	pid   int
	start string
}

// procStat reads a process's parent, state and start time from /proc/<pid>/stat.
func procStat(pid int) (ppid int, state byte, start string, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, "", false
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, "", false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, "", false
	}
	return ppid, f[0][0], f[19], true // f[19] is field 22, starttime
}

// descendants lists every process below pid: its children, theirs, and so on, read
// from /proc at once. Where /proc cannot be read it lists none.
func descendants(pid int) []procID {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]procID{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, start, ok := procStat(p); ok {
			children[ppid] = append(children[ppid], procID{pid: p, start: start})
		}
	}
	var out []procID
	next := []int{pid}
	for len(next) > 0 {
		p := next[len(next)-1]
		next = next[:len(next)-1]
		for _, c := range children[p] {
			out = append(out, c)
			next = append(next, c.pid)
		}
	}
	return out
}

// killTree sends SIGKILL to p's process group and to every process descending from p,
// which includes those that left the group: PostgreSQL's backends call setsid, so a
// signal to the postmaster's group misses them, and a new postmaster started while they
// still hold the old one's shared memory refuses to run ("pre-existing shared memory
// block is still in use"). The group is frozen first (SIGSTOP), so that nothing forks
// between the listing and the kill, as a container's or a cgroup's kill takes
// everything. It returns the descendants, for waitGone.
func (p *proc) killTree() []procID {
	_ = p.signal(syscall.SIGSTOP)
	desc := descendants(p.pid)
	_ = p.signal(syscall.SIGKILL)
	for _, d := range desc {
		_ = syscall.Kill(d.pid, syscall.SIGKILL)
	}
	return desc
}

// waitGone waits until each of ps has exited or is a zombie (which holds no memory,
// file or port any more), within ctx and at most 10 s: a kill is not over while any
// process it killed still holds what the next start needs.
func waitGone(ctx context.Context, ps []procID) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, p := range ps {
		for {
			_, state, start, ok := procStat(p.pid)
			if !ok || start != p.start || state == 'Z' || state == 'X' {
				break
			}
			select {
			case <-ctx.Done():
				return errors.New("process " + strconv.Itoa(p.pid) + " it started is still alive after SIGKILL")
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// sysProcAttr puts the child in a process group of its own, so that a signal reaches
// every process of the instance and none of the harness, and has the kernel kill it when
// the thread that forked it ends (the spawner keeps that thread alive for the run).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitStopped returns once the process pid is in the stopped state, so that a Pause is
// in effect when it returns, or when ctx ends or the process is gone.
func waitStopped(ctx context.Context, pid int) error {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		stat, err := os.ReadFile(path)
		if err != nil {
			return nil // gone: nothing left to wait for
		}
		// The state is the field after the parenthesised command name.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
			if s := stat[i+2]; s == 'T' || s == 't' || s == 'Z' || s == 'X' {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %d not stopped yet: %w", pid, ctx.Err())
		case <-time.After(delay):
		}
	}
}

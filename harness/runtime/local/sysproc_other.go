//go:build unix && !linux

package local

import (
	"context"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own, so that a signal reaches
// every process of the instance and none of the harness. (Only Linux can tie a child's
// life to its parent's; elsewhere Close must run for the children to go.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitStopped is a no-op where the process state cannot be read cheaply.
func waitStopped(ctx context.Context, pid int) error { return nil }

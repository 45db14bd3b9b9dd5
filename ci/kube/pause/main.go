// Command pause is the sandbox ("pause") container of the single-node cluster ci/kube.sh
// starts: no image can be pulled on these machines, so the node's containerd gets this
// static program, packed by ci/kube/mkimage, under the name its sandbox_image setting
// gives. As PID 1 of a pod it reaps orphaned children and blocks until SIGINT or SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

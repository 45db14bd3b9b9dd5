// Package agent is what the kubernetes runtime runs beside every instance's container, in
// the same pod, to crash it the way kill -9 does. Kubernetes has no API for that: deleting
// a pod, even with no grace period, has the kubelet send the stop signal and wait its
// minimum grace of two seconds, so the program shuts down cleanly, and the StatefulSet's
// next pod may start while the last one still runs. The pod shares one process namespace
// (shareProcessNamespace), so the agent sees the instance's processes, and POST /kill
// SIGKILLs every one of them: the container exits as a crashed one does, and the kubelet
// restarts it in place, in the same pod, with the same address and volume.
//
// The agent listens on loopback inside the pod only; the harness reaches it through
// port-forward. It is a mode of cmd/faultline-toxiproxy (`faultline-toxiproxy agent`), so
// that the one image a cluster needs from faultline serves both.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Port is the agent's default port, on the pod's loopback.
const Port = 19901

// Process is one process the agent killed.
type Process struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// Killed is the answer to POST /kill.
type Killed struct {
	Processes []Process `json:"processes"`
}

// Serve answers on addr until ctx ends: GET /healthz, and POST /kill, which SIGKILLs
// every process of the pod's other containers and answers once they are gone.
func Serve(ctx context.Context, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agent: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /kill", func(w http.ResponseWriter, r *http.Request) {
		ns, _ := os.Readlink("/proc/self/ns/pid")
		if err := ownNamespace(ns); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		procs, err := KillSiblings(r.Context(), os.DirFS("/proc"), os.Getpid())
		if err != nil {
			logger.Error("kill", "err", err, "killed", procs)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		logger.Info("killed", "processes", procs)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Killed{Processes: procs})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("agent listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// hostPIDNamespace is the kernel's initial PID namespace (PROC_PID_INIT_INO), as
// readlink /proc/self/ns/pid shows it.
const hostPIDNamespace = "pid:[4026531836]"

// ownNamespace refuses a kill from the host's PID namespace (or one it cannot read): there
// "every other process" is the whole machine's.
func ownNamespace(link string) error {
	switch link {
	case "":
		return errors.New("refused: cannot read this process's PID namespace (/proc/self/ns/pid)")
	case hostPIDNamespace:
		return errors.New("refused: the agent runs in the host's PID namespace, not in a pod's: it kills only inside a pod whose process namespace is shared")
	}
	return nil
}

// killWithin bounds the wait for the killed processes to be gone.
const killWithin = 10 * time.Second

// KillSiblings SIGKILLs every process Siblings finds and waits until none is left (a
// zombie counts as gone). It fails when there is none to kill: the container is not
// running, and a kill that killed nothing must not pass for one.
func KillSiblings(ctx context.Context, proc fs.FS, self int) ([]Process, error) {
	procs, err := Siblings(proc, self)
	if err != nil {
		return nil, err
	}
	if len(procs) == 0 {
		return nil, errors.New("no process of another container runs in this pod: is the pod's process namespace shared (shareProcessNamespace), and its container running?")
	}
	for _, p := range procs {
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return procs, fmt.Errorf("SIGKILL %d (%s): %w", p.PID, p.Comm, err)
		}
	}
	deadline := time.Now().Add(killWithin)
	for {
		left := alive(proc, procs)
		if len(left) == 0 {
			return procs, nil
		}
		if time.Now().After(deadline) {
			return procs, fmt.Errorf("still there %s after SIGKILL: %v", killWithin, left)
		}
		select {
		case <-ctx.Done():
			return procs, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// AwaitSiblingsGone returns once no process of the pod's other containers is left (or
// ctx ends): the agent outlives the program it stands beside.
func AwaitSiblingsGone(ctx context.Context, proc fs.FS, self int) error {
	for {
		procs, err := Siblings(proc, self)
		if err != nil {
			return err
		}
		if len(alive(proc, procs)) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Siblings lists the processes of the pod's other containers, as proc (a /proc) shows
// them to process self: every process but the pod's init (pid 1, the sandbox's pause)
// and those in self's own cgroup (the agent's container).
func Siblings(proc fs.FS, self int) ([]Process, error) {
	own, err := fs.ReadFile(proc, strconv.Itoa(self)+"/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read the agent's own cgroup: %w", err)
	}
	entries, err := fs.ReadDir(proc, ".")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 || pid == self || !e.IsDir() {
			continue
		}
		cg, err := fs.ReadFile(proc, e.Name()+"/cgroup")
		if err != nil || bytes.Equal(cg, own) {
			continue // gone meanwhile, or the agent's own container
		}
		comm, _ := fs.ReadFile(proc, e.Name()+"/comm")
		out = append(out, Process{PID: pid, Comm: strings.TrimSpace(string(comm))})
	}
	return out, nil
}

// alive is those of procs that have not exited.
func alive(proc fs.FS, procs []Process) []Process {
	return slices.DeleteFunc(slices.Clone(procs), func(p Process) bool { return gone(proc, p.PID) })
}

// gone says whether pid has exited: no longer listed, or a zombie its parent has yet to
// reap.
func gone(proc fs.FS, pid int) bool {
	stat, err := fs.ReadFile(proc, strconv.Itoa(pid)+"/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

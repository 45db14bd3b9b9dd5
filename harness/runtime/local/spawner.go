package local

import (
	"errors"
	"os/exec"
	goruntime "runtime"
	"sync"
)

// errSpawnerClosed is returned by spawner.start after the run closed.
var errSpawnerClosed = errors.New("runtime closed")

// spawner starts every child of a run from one goroutine locked to its OS thread.
//
// Linux delivers Pdeathsig when the *thread* that forked the child ends, not the process
// (golang.org/issue/27505); Go may retire any thread a locked goroutine exits on. Forking
// from a thread that lives as long as the run makes "the child dies with the harness"
// hold, and nothing else.
type spawner struct {
	reqs chan spawnReq
	quit chan struct{}
	once sync.Once
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	for {
		select {
		case r := <-s.reqs:
			r.done <- r.cmd.Start()
		case <-s.quit:
			return
		}
	}
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.done
	case <-s.quit:
		return errSpawnerClosed
	}
}

// close ends the spawner; call it only once no child is left.
func (s *spawner) close() { s.once.Do(func() { close(s.quit) }) }

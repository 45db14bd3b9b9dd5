package harness

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// live holds the systems this process has up, so that SIGINT and SIGTERM tear them
// down before the process dies. It is the one piece of process-wide state: signals are.
var live = struct {
	sync.Mutex
	systems map[*Running]struct{}
	ch      chan os.Signal
}{systems: map[*Running]struct{}{}}

func track(r *Running) {
	live.Lock()
	defer live.Unlock()
	live.systems[r] = struct{}{}
	if live.ch == nil {
		live.ch = make(chan os.Signal, 1)
		signal.Notify(live.ch, os.Interrupt, syscall.SIGTERM)
		go onSignal(live.ch)
	}
}

func untrack(r *Running) {
	live.Lock()
	defer live.Unlock()
	delete(live.systems, r)
}

// onSignal downs every live system and closes its runtime, then stops listening and raises the signal again,
// so that the process ends as it would have (or another handler, such as Ginkgo's,
// carries on).
func onSignal(ch chan os.Signal) {
	sig := <-ch
	live.Lock()
	var systems []*Running
	for r := range live.systems {
		systems = append(systems, r)
	}
	live.ch = nil
	live.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range systems {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.Down(ctx)
			// The process is going: close the runtime even when the caller owns it, so
			// that its proxy host and networks go too.
			_ = r.rt.Close(ctx)
		}()
	}
	wg.Wait()
	signal.Stop(ch)
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(os.Getpid(), s)
	}
}

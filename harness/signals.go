package harness

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// signalTeardown bounds the teardown a signal starts: the process is going, and a
// teardown that hangs must not keep it.
const signalTeardown = 30 * time.Second

// live holds the systems this process has up, so that SIGINT and SIGTERM tear them
// down before the process dies, and what the harness does after that teardown. It is
// the one piece of process-wide state: signals are.
var live = struct {
	sync.Mutex
	systems map[*Running]struct{}
	ch      chan os.Signal
	// handedOver counts the HandOverInterrupts not yet released: while it is above
	// zero, another handler ends the process, and the harness raises no signal again.
	handedOver int
	// downing is closed once the latest teardown a signal started has finished; nil
	// until a signal comes.
	downing chan struct{}
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

// HandOverInterrupts tells the harness that, until release is called, another handler
// in this process ends it in order on SIGINT and SIGTERM: Ginkgo's, while RunSpecs runs.
// The harness still tears down every live system on the first such signal, but it then
// raises no signal again. Ginkgo counts every SIGINT and SIGTERM it receives, and it
// reads a second one as "skip the cleanups": the signal the harness raises again for
// plain go test would make Ginkgo skip the suite's own DeferCleanup, AfterEach and
// AfterSuite.
//
// A Ginkgo suite calls it around RunSpecs:
//
//	func TestScenarios(t *testing.T) {
//		RegisterFailHandler(Fail)
//		release := harness.HandOverInterrupts()
//		defer release()
//		RunSpecs(t, "scenarios")
//	}
//
// release waits until a teardown that a signal started has finished (30 s at most), so
// that the process, which exits once RunSpecs has returned, cannot cut it short. It is
// safe to call more than once. Call HandOverInterrupts only where another handler will
// end the process: after a signal, nothing in the harness does.
//
// The harness does not find Ginkgo by itself: Ginkgo exports no way to ask whether a
// suite is running, and importing it into this package would add its command-line
// flags to every program that imports the harness, Ginkgo user or not.
func HandOverInterrupts() (release func()) {
	live.Lock()
	live.handedOver++
	live.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			live.Lock()
			live.handedOver--
			downing := live.downing
			live.Unlock()
			if downing != nil {
				<-downing
			}
		})
	}
}

// onSignal waits for SIGINT or SIGTERM, then downs every live system and closes its
// runtime. After that teardown it stops listening and either leaves the rest to the
// handler HandOverInterrupts named when the signal came (Ginkgo, which then runs the
// suite's cleanups and ends the process), or, if none was named, raises the signal
// again, so that the process ends as that signal ends it. A second signal during the
// teardown is absorbed: the teardown is bounded, and a second Ctrl-C must not leave
// containers behind.
func onSignal(ch chan os.Signal) {
	sig := <-ch
	done := make(chan struct{})
	live.Lock()
	var systems []*Running
	for r := range live.systems {
		systems = append(systems, r)
	}
	live.ch = nil
	live.downing = done
	handedOver := live.handedOver > 0
	live.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), signalTeardown)
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
	close(done)
	if handedOver {
		return
	}
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(os.Getpid(), s)
	}
}
